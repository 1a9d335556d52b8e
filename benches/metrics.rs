//! What the `metrics` feature costs a call: the single-task rows of each layer and of the four
//! stacked, built once per mode.
//!
//! ```text
//! cargo bench --bench metrics                     # rows metrics-off/*: the feature not compiled
//! cargo bench --bench metrics --features metrics  # rows metrics-on-no-recorder/* and
//!                                                 # metrics-on-prometheus/*
//! ```
//!
//! With the feature, the `no-recorder` rows are built before any recorder is installed (their
//! handles are the facade's no-op handles, but every call still builds its event and records
//! it); then `metrics-exporter-prometheus`'s recorder is installed and the `prometheus` rows are
//! built, so every call records on real atomic handles, as in production. The breaker and the
//! bulkhead are named, as a user would name them. BENCHMARKS.md has the figures.

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

#[allow(
    dead_code,
    reason = "the overhead bench's helpers this bench does not use"
)]
#[path = "overhead/support.rs"]
mod support;

use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::retry::Retry;
use bulwark::timeout::TimeoutLayer;
use support::{Echo, current_thread, single_row};
use tower::{Layer, ServiceBuilder};

const TIMEOUT: Duration = Duration::from_secs(30);
const LIMIT: usize = 64;

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("payments")
        .build()
        .expect("valid breaker")
}

fn bulkhead() -> Bulkhead {
    Bulkhead::builder()
        .name("payments")
        .max_concurrent(LIMIT)
        .max_queued(LIMIT)
        .build()
        .expect("valid bulkhead")
}

fn retry() -> Retry {
    Retry::builder()
        .name("payments")
        .build()
        .expect("valid retry")
}

/// Every row of one mode, its services built now.
fn rows(c: &mut Criterion, mode: &str) {
    let rt = current_thread();
    let group = format!("metrics/{mode}");
    let mut g = c.benchmark_group(&group);
    single_row(&mut g, &group, &rt, "baseline", Echo);
    single_row(
        &mut g,
        &group,
        &rt,
        "timeout",
        TimeoutLayer::new(TIMEOUT).name("payments").layer(Echo),
    );
    single_row(
        &mut g,
        &group,
        &rt,
        "circuit_breaker",
        breaker().layer().layer(Echo),
    );
    single_row(
        &mut g,
        &group,
        &rt,
        "bulkhead",
        bulkhead().layer().layer(Echo),
    );
    single_row(&mut g, &group, &rt, "retry", retry().layer().layer(Echo));
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(TIMEOUT).name("payments"))
        .layer(retry().layer())
        .layer(breaker().layer())
        .layer(bulkhead().layer())
        .service(Echo);
    single_row(&mut g, &group, &rt, "stack", stack);
    g.finish();
}

fn bench(c: &mut Criterion) {
    #[cfg(not(feature = "metrics"))]
    rows(c, "off");
    #[cfg(feature = "metrics")]
    {
        rows(c, "on-no-recorder");
        let _handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("no other recorder installed");
        rows(c, "on-prometheus");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
