//! Circuit breaker rows: baseline, tower's `ConcurrencyLimit` (the cost of one shared atomic
//! reservation per call), bulwark's breaker with a count window and with a time window (default
//! settings otherwise, closed), and an open breaker rejecting every call.

use crate::support::{Echo, contended, current_thread, multi_thread, report_allocations, single};
use bulwark::circuit_breaker::CircuitBreaker;
use criterion::Criterion;
use std::time::Duration;
use tower::Layer;
use tower::limit::ConcurrencyLimitLayer;

const LIMIT: usize = 1 << 20;

fn count_window() -> CircuitBreaker {
    CircuitBreaker::builder()
        .build()
        .expect("defaults are valid")
}

fn time_window() -> CircuitBreaker {
    CircuitBreaker::builder()
        .time_window(Duration::from_secs(10))
        .build()
        .expect("valid settings")
}

fn open() -> CircuitBreaker {
    let breaker = count_window();
    breaker.force_open();
    breaker
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let mut g = c.benchmark_group("circuit_breaker/single");
    report_allocations("circuit_breaker/single/baseline", &rt, &mut Echo);
    g.bench_function("baseline", |b| {
        let mut svc = Echo;
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    report_allocations(
        "circuit_breaker/single/tower-concurrency-limit",
        &rt,
        &mut ConcurrencyLimitLayer::new(LIMIT).layer(Echo),
    );
    g.bench_function("tower-concurrency-limit", |b| {
        let mut svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    report_allocations(
        "circuit_breaker/single/bulwark-count-window",
        &rt,
        &mut count_window().layer().layer(Echo),
    );
    g.bench_function("bulwark-count-window", |b| {
        let mut svc = count_window().layer().layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    report_allocations(
        "circuit_breaker/single/bulwark-time-window",
        &rt,
        &mut time_window().layer().layer(Echo),
    );
    g.bench_function("bulwark-time-window", |b| {
        let mut svc = time_window().layer().layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark-open-rejection", |b| {
        let mut svc = open().layer().layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.finish();

    for tasks in [2, 8] {
        let rt = multi_thread(2);
        let mut g = c.benchmark_group(format!("circuit_breaker/contended-{tasks}"));
        g.bench_function("baseline", |b| {
            b.iter_custom(|iters| contended(&rt, tasks, iters, Echo))
        });
        g.bench_function("tower-concurrency-limit", |b| {
            let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
            b.iter_custom(|iters| contended(&rt, tasks, iters, svc.clone()))
        });
        g.bench_function("bulwark-count-window", |b| {
            let svc = count_window().layer().layer(Echo);
            b.iter_custom(|iters| contended(&rt, tasks, iters, svc.clone()))
        });
        g.bench_function("bulwark-time-window", |b| {
            let svc = time_window().layer().layer(Echo);
            b.iter_custom(|iters| contended(&rt, tasks, iters, svc.clone()))
        });
        g.bench_function("bulwark-open-rejection", |b| {
            let svc = open().layer().layer(Echo);
            b.iter_custom(|iters| contended(&rt, tasks, iters, svc.clone()))
        });
        g.finish();
    }
}
