//! What the `metrics` feature costs a call: the single-task rows of each layer and of the four
//! stacked, built once per mode.
//!
//! ```text
//! cargo bench --bench metrics                     # rows metrics/off/*: the feature not compiled
//! cargo bench --bench metrics --features metrics  # rows metrics/on-no-recorder/* and
//!                                                 # metrics/on-prometheus/*
//! metrics --row <group/row> --calls <n>           # n calls of one row (for callgrind), no timing
//! ```
//!
//! With the feature, the `no-recorder` rows are built before any recorder is installed (their
//! handles are the facade's no-op handles, but every call still builds its event and records
//! it); then `metrics-exporter-prometheus`'s recorder is installed and the `prometheus` rows are
//! built, so every call records on real atomic handles, as in production. The breaker, the
//! bulkhead and the retry are named, as a user would name them. BENCHMARKS.md has the figures
//! and the callgrind commands.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
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
use support::{Echo, current_thread, single, single_row};
use tower::{Layer, Service, ServiceBuilder};

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

/// What is done with each row: timed by criterion, or driven for a number of calls.
trait Rows {
    fn row<S>(&mut self, name: &str, svc: S)
    where
        S: Service<u64>,
        S::Error: std::fmt::Debug;
}

/// Every row of one mode, its services built now.
fn rows(r: &mut impl Rows) {
    r.row("baseline", Echo);
    r.row(
        "timeout",
        TimeoutLayer::new(TIMEOUT).name("payments").layer(Echo),
    );
    r.row("circuit_breaker", breaker().layer().layer(Echo));
    r.row("bulkhead", bulkhead().layer().layer(Echo));
    r.row("retry", retry().layer().layer(Echo));
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(TIMEOUT).name("payments"))
        .layer(retry().layer())
        .layer(breaker().layer())
        .layer(bulkhead().layer())
        .service(Echo);
    r.row("stack", stack);
}

struct Timed<'a, 'c> {
    g: BenchmarkGroup<'c, WallTime>,
    group: &'a str,
    rt: tokio::runtime::Runtime,
}

impl Rows for Timed<'_, '_> {
    fn row<S>(&mut self, name: &str, svc: S)
    where
        S: Service<u64>,
        S::Error: std::fmt::Debug,
    {
        single_row(&mut self.g, self.group, &self.rt, name, svc);
    }
}

/// Drives the one row named `want` for `calls` calls.
struct Driven<'a> {
    want: &'a str,
    calls: u64,
    rt: tokio::runtime::Runtime,
    found: bool,
}

impl Rows for Driven<'_> {
    fn row<S>(&mut self, name: &str, mut svc: S)
    where
        S: Service<u64>,
        S::Error: std::fmt::Debug,
    {
        if name == self.want {
            self.found = true;
            single(&self.rt, self.calls, &mut svc);
        }
    }
}

/// The modes this build has, in order: the recorder is installed before the last one.
fn modes() -> &'static [&'static str] {
    if cfg!(feature = "metrics") {
        &["on-no-recorder", "on-prometheus"]
    } else {
        &["off"]
    }
}

fn install_recorder() {
    // The recorder alone, without the upkeep thread `install_recorder` starts (its work is not
    // a call's, and it would run inside the instruction counts).
    #[cfg(feature = "metrics")]
    metrics::set_global_recorder(
        metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
    )
    .expect("no other recorder installed");
}

fn bench(c: &mut Criterion) {
    for mode in modes() {
        if *mode == "on-prometheus" {
            install_recorder();
        }
        let group = format!("metrics/{mode}");
        let mut timed = Timed {
            g: c.benchmark_group(&group),
            group: &group,
            rt: current_thread(),
        };
        rows(&mut timed);
        timed.g.finish();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let (Some(row), Some(calls)) = (arg("--row"), arg("--calls")) {
        let (group, name) = row.split_once('/').expect("--row <group>/<row>");
        assert!(modes().contains(&group), "no group {group} in this build");
        if group == "on-prometheus" {
            install_recorder();
        }
        let mut driven = Driven {
            want: name,
            calls: calls.parse().expect("--calls <n>"),
            rt: current_thread(),
            found: false,
        };
        rows(&mut driven);
        assert!(driven.found, "no row {name}");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
