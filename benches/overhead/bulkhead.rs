//! Bulkhead rows: baseline, tower's `ConcurrencyLimit`, tower-resilience's bulkhead (its default
//! and backpressure modes), bulwark's bulkhead in its default and backpressure modes. The limits are
//! high enough that no call waits: this is the admission cost.

use crate::support::{
    Echo, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread, single_row,
};
use bulwark::bulkhead::Bulkhead;
use criterion::Criterion;
use tower::Layer;
use tower::limit::ConcurrencyLimitLayer;
use tower_resilience_bulkhead::BulkheadLayer as PeerLayer;

const LIMIT: usize = 64;

fn bulkhead() -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(LIMIT)
        .build()
        .expect("bulkhead")
}

fn peer() -> PeerLayer {
    PeerLayer::builder()
        .max_concurrent_calls(LIMIT)
        .build()
        .expect("peer bulkhead")
}

fn peer_backpressure() -> PeerLayer {
    PeerLayer::builder()
        .max_concurrent_calls(LIMIT)
        .backpressure()
        .build()
        .expect("peer bulkhead")
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let group = "bulkhead/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
    single_row(&mut g, group, &rt, "tower", svc);
    single_row(&mut g, group, &rt, "tower-resilience", peer().layer(Echo));
    let svc = peer_backpressure().layer(Echo);
    single_row(&mut g, group, &rt, "tower-resilience-backpressure", svc);
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark",
        bulkhead().layer().layer(Echo),
    );
    let svc = bulkhead().layer().backpressure().layer(Echo);
    single_row(&mut g, group, &rt, "bulwark-backpressure", svc);
    g.finish();

    let group = "bulkhead/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    let svc = ConcurrencyLimitLayer::new(LIMIT).layer(PendingOnce);
    single_row(&mut g, group, &rt, "tower", svc);
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        peer().layer(PendingOnce),
    );
    let svc = bulkhead().layer().layer(PendingOnce);
    single_row(&mut g, group, &rt, "bulwark", svc);
    g.finish();

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("bulkhead/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower", svc);
        contended_row(&mut g, &rt, tasks, "tower-resilience", peer().layer(Echo));
        let svc = bulkhead().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark", svc);
        let svc = bulkhead().layer().backpressure().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark-backpressure", svc);
        g.finish();
    }
}
