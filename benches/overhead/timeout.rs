//! Timeout rows: baseline, tower's `Timeout`, bulwark's `TimeoutLayer`.

use crate::support::{Echo, contended, current_thread, multi_thread, report_allocations, single};
use bulwark::timeout::TimeoutLayer;
use criterion::Criterion;
use std::time::Duration;
use tower::Layer;

const LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let mut g = c.benchmark_group("timeout/single");
    g.bench_function("baseline", |b| {
        let mut svc = Echo;
        report_allocations("timeout/single/baseline", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("tower", |b| {
        let mut svc = tower::timeout::TimeoutLayer::new(LIMIT).layer(Echo);
        report_allocations("timeout/single/tower", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark", |b| {
        let mut svc = TimeoutLayer::new(LIMIT).layer(Echo);
        report_allocations("timeout/single/bulwark", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.finish();

    let rt = multi_thread(2);
    let mut g = c.benchmark_group("timeout/contended-2");
    g.bench_function("baseline", |b| {
        b.iter_custom(|iters| contended(&rt, 2, iters, Echo))
    });
    g.bench_function("tower", |b| {
        let svc = tower::timeout::TimeoutLayer::new(LIMIT).layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("bulwark", |b| {
        let svc = TimeoutLayer::new(LIMIT).layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.finish();
}
