//! Aggregating 100 trivial checks: the baseline (the 100 closures joined directly), a report that
//! runs every check (no cache), and a report served from the cache, in the same run.

use bulwark::health::{Check, HealthAggregator, Status};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::future::join_all;
use std::hint::black_box;
use std::time::Duration;

const CHECKS: usize = 100;

async fn trivial() -> Status {
    Status::Healthy
}

fn aggregator(cache_for: Duration) -> HealthAggregator {
    (0..CHECKS)
        .fold(HealthAggregator::builder().cache_for(cache_for), |b, i| {
            b.check(Check::from_fn(format!("check-{i}"), trivial))
        })
        .build()
        .expect("valid configuration")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("health/100-checks");

    g.bench_function("baseline-join-all", |b| {
        let closures: Vec<fn() -> _> = vec![trivial; CHECKS];
        b.to_async(&rt).iter(|| async {
            let statuses = join_all(closures.iter().map(|f| f())).await;
            black_box(statuses.iter().max().copied())
        });
    });
    g.bench_function("uncached", |b| {
        let health = aggregator(Duration::ZERO);
        b.to_async(&rt)
            .iter(|| async { black_box(health.report().await.status()) });
    });
    g.bench_function("cached", |b| {
        let health = aggregator(Duration::from_secs(3600));
        rt.block_on(health.report());
        b.to_async(&rt)
            .iter(|| async { black_box(health.report().await.status()) });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
