//! The rate limiter beside governor's direct limiter and tower's `RateLimit`, in one run.
//!
//! Groups:
//! - `rate_limit/decide`: one admitted decision, no service: bulwark's `try_acquire`, governor's
//!   `check` on its default clock (quanta) and on a clock over `tokio::time::Instant` (the clock
//!   a limiter needs for tokio's paused clock to drive it in tests).
//! - `rate_limit/decide-rejected`: one rejected decision, with the time to wait.
//! - `rate_limit/single`: one call through a tower stack on a current-thread runtime: the
//!   pass-through baseline, tower's `RateLimit`, bulwark's layer.
//! - `rate_limit/contended-2`: admitted decisions from two threads at once on one limiter
//!   (the figure is wall time over the decisions of one thread).
//!
//! The limits are so generous in the admitted groups that every call is admitted.

#[path = "overhead/support.rs"]
#[allow(dead_code)]
mod support;

use bulwark::rate_limit::RateLimiter;
use criterion::{Criterion, criterion_group};
use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Governor};
use std::num::NonZeroU32;
use std::ops::Add;
use std::time::{Duration, Instant};
use support::{Echo, current_thread, single_row};
use tower::Layer;

/// Calls per second in the admitted groups, and as much burst: nothing is ever rejected.
const GENEROUS: u32 = 1_000_000_000;

/// governor's clock over `tokio::time::Instant`.
#[derive(Clone, Debug)]
struct TokioClock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TokioInstant(tokio::time::Instant);

impl Add<Nanos> for TokioInstant {
    type Output = Self;
    fn add(self, d: Nanos) -> Self {
        Self(self.0 + Duration::from(d))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }
    fn saturating_sub(&self, d: Nanos) -> Self {
        Self(self.0.checked_sub(d.into()).unwrap_or(self.0))
    }
}

impl Clock for TokioClock {
    type Instant = TokioInstant;
    fn now(&self) -> TokioInstant {
        TokioInstant(tokio::time::Instant::now())
    }
}

type TokioGovernor = Governor<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

fn quota(per_second: u32, burst: u32) -> Quota {
    let n = NonZeroU32::new(per_second).expect("non-zero");
    Quota::per_second(n).allow_burst(NonZeroU32::new(burst).expect("non-zero"))
}

fn bulwark(per_second: u64, burst: u64) -> RateLimiter {
    RateLimiter::builder()
        .rate(per_second, Duration::from_secs(1))
        .burst(burst)
        .build()
        .expect("limiter")
}

/// Times `iters` decisions of `decide`.
fn decisions(iters: u64, mut decide: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        std::hint::black_box(decide());
    }
    start.elapsed()
}

/// Times `iters` decisions on each of two threads at once; the wall time.
fn decisions_on_two_threads(iters: u64, decide: impl Fn() -> bool + Sync) -> Duration {
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    std::hint::black_box(decide());
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins both threads before it returns.
        start
    })
    .elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_limit/decide");
    let l = bulwark(GENEROUS.into(), GENEROUS.into());
    g.bench_function("bulwark", |b| {
        b.iter_custom(|n| decisions(n, || l.try_acquire().is_ok()))
    });
    let gov = Governor::direct(quota(GENEROUS, GENEROUS));
    g.bench_function("governor", |b| {
        b.iter_custom(|n| decisions(n, || gov.check().is_ok()))
    });
    let gov: TokioGovernor = Governor::direct_with_clock(quota(GENEROUS, GENEROUS), TokioClock);
    g.bench_function("governor-tokio-clock", |b| {
        b.iter_custom(|n| decisions(n, || gov.check().is_ok()))
    });
    g.finish();

    let mut g = c.benchmark_group("rate_limit/decide-rejected");
    let l = bulwark(1, 1);
    let _ = l.try_acquire();
    g.bench_function("bulwark", |b| {
        b.iter_custom(|n| decisions(n, || l.try_acquire().map_err(|e| e.retry_after()).is_ok()))
    });
    let gov = Governor::direct(quota(1, 1));
    let _ = gov.check();
    let clock = governor::clock::DefaultClock::default();
    g.bench_function("governor", |b| {
        b.iter_custom(|n| {
            decisions(n, || {
                gov.check()
                    .map_err(|e| e.wait_time_from(clock.now()))
                    .is_ok()
            })
        })
    });
    g.finish();

    let rt = current_thread();
    let group = "rate_limit/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    let svc = rt.block_on(async {
        tower::limit::RateLimitLayer::new(GENEROUS.into(), Duration::from_secs(1)).layer(Echo)
    });
    single_row(&mut g, group, &rt, "tower", svc);
    let svc = bulwark(GENEROUS.into(), GENEROUS.into())
        .layer()
        .layer(Echo);
    single_row(&mut g, group, &rt, "bulwark", svc);
    g.finish();

    let mut g = c.benchmark_group("rate_limit/contended-2");
    let l = bulwark(GENEROUS.into(), GENEROUS.into());
    g.bench_function("bulwark", |b| {
        b.iter_custom(|n| decisions_on_two_threads(n, || l.try_acquire().is_ok()))
    });
    let gov = Governor::direct(quota(GENEROUS, GENEROUS));
    g.bench_function("governor", |b| {
        b.iter_custom(|n| decisions_on_two_threads(n, || gov.check().is_ok()))
    });
    let gov: TokioGovernor = Governor::direct_with_clock(quota(GENEROUS, GENEROUS), TokioClock);
    g.bench_function("governor-tokio-clock", |b| {
        b.iter_custom(|n| decisions_on_two_threads(n, || gov.check().is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);

/// `RATE_LIMIT_ROW=<row> RATE_LIMIT_CALLS=<n>`: makes `n` decisions of one `decide` row and
/// exits, for instruction counts under callgrind (run at `n` and `2n`; the difference over `n`
/// is the cost of one decision): `bulwark`, `governor`, `governor-tokio-clock`.
fn decide_only() -> bool {
    let (Ok(row), Ok(calls)) = (
        std::env::var("RATE_LIMIT_ROW"),
        std::env::var("RATE_LIMIT_CALLS"),
    ) else {
        return false;
    };
    let calls: u64 = calls.parse().expect("RATE_LIMIT_CALLS: a number");
    let admitted = match row.as_str() {
        "bulwark" => {
            let l = bulwark(GENEROUS.into(), GENEROUS.into());
            (0..calls).filter(|_| l.try_acquire().is_ok()).count()
        }
        "governor" => {
            let gov = Governor::direct(quota(GENEROUS, GENEROUS));
            (0..calls).filter(|_| gov.check().is_ok()).count()
        }
        "governor-tokio-clock" => {
            let gov: TokioGovernor =
                Governor::direct_with_clock(quota(GENEROUS, GENEROUS), TokioClock);
            (0..calls).filter(|_| gov.check().is_ok()).count()
        }
        other => panic!("no row {other}"),
    };
    std::hint::black_box(admitted);
    true
}

fn main() {
    if decide_only() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
