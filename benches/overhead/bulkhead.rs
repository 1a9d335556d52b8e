//! Bulkhead rows: baseline, tower's `ConcurrencyLimit`, bulwark's bulkhead in its default and
//! backpressure modes. The limits are high enough that no call waits: this is the admission cost.

use crate::support::{Echo, contended, current_thread, multi_thread, report_allocations, single};
use bulwark::bulkhead::Bulkhead;
use criterion::Criterion;
use tower::Layer;
use tower::limit::ConcurrencyLimitLayer;

const LIMIT: usize = 64;

fn bulkhead() -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(LIMIT)
        .build()
        .expect("bulkhead")
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let mut g = c.benchmark_group("bulkhead/single");
    g.bench_function("baseline", |b| {
        let mut svc = Echo;
        report_allocations("bulkhead/single/baseline", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("tower", |b| {
        let mut svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
        report_allocations("bulkhead/single/tower", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark", |b| {
        let mut svc = bulkhead().layer().layer(Echo);
        report_allocations("bulkhead/single/bulwark", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark-backpressure", |b| {
        let mut svc = bulkhead().layer().backpressure().layer(Echo);
        report_allocations("bulkhead/single/bulwark-backpressure", &rt, &mut svc);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.finish();

    let rt = multi_thread(2);
    let mut g = c.benchmark_group("bulkhead/contended-2");
    g.bench_function("baseline", |b| {
        b.iter_custom(|iters| contended(&rt, 2, iters, Echo))
    });
    g.bench_function("tower", |b| {
        let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("bulwark", |b| {
        let svc = bulkhead().layer().layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("bulwark-backpressure", |b| {
        let svc = bulkhead().layer().backpressure().layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.finish();
}
