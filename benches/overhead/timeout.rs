//! Timeout rows: baseline, tower's `Timeout`, tower-resilience's `TimeLimiter`, bulwark's
//! `TimeoutLayer`; on an always-ready inner service, on one that is pending once, and contended.

use crate::support::{
    Echo, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread, single_row,
};
use bulwark::timeout::TimeoutLayer;
use criterion::Criterion;
use std::time::Duration;
use tower::Layer;
use tower_resilience_timelimiter::TimeLimiterLayer;

const LIMIT: Duration = Duration::from_secs(30);

fn time_limiter() -> TimeLimiterLayer<tower_resilience_timelimiter::FixedTimeout> {
    TimeLimiterLayer::builder().timeout_duration(LIMIT).build()
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let group = "timeout/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    let tower = tower::timeout::TimeoutLayer::new(LIMIT);
    single_row(&mut g, group, &rt, "tower", tower.layer(Echo));
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        time_limiter().layer(Echo),
    );
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark",
        TimeoutLayer::new(LIMIT).layer(Echo),
    );
    g.finish();

    let group = "timeout/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    single_row(&mut g, group, &rt, "tower", tower.layer(PendingOnce));
    let svc = time_limiter().layer(PendingOnce);
    single_row(&mut g, group, &rt, "tower-resilience", svc);
    let svc = TimeoutLayer::new(LIMIT).layer(PendingOnce);
    single_row(&mut g, group, &rt, "bulwark", svc);
    g.finish();

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("timeout/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        contended_row(&mut g, &rt, tasks, "tower", tower.layer(Echo));
        let svc = time_limiter().layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower-resilience", svc);
        let svc = TimeoutLayer::new(LIMIT).layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark", svc);
        g.finish();
    }
}
