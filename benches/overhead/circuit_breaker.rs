//! Circuit breaker rows: baseline, tower's `ConcurrencyLimit` (the cost of one shared atomic
//! reservation per call), the `failsafe` crate's breaker (behind a thin tower adapter, below),
//! tower-resilience's breaker, bulwark's breaker with a count window and with a time window (default
//! settings otherwise, closed), and each breaker open, rejecting every call.

use crate::support::{
    Echo, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread, single_row,
};
use bulwark::circuit_breaker::CircuitBreaker;
use criterion::Criterion;
use failsafe::futures::CircuitBreaker as _;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service};
use tower_resilience_circuitbreaker::CircuitBreakerLayer as PeerLayer;

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

/// failsafe's default breaker (consecutive failures with exponential backoff).
type FailsafeBreaker = failsafe::StateMachine<
    failsafe::failure_policy::OrElse<
        failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::EqualJittered>,
        failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::EqualJittered>,
    >,
    (),
>;

/// failsafe has no tower layer: this adapter passes readiness through and wraps each call's future
/// in `CircuitBreaker::call`, the crate's futures API (no allocation of its own).
#[derive(Clone, Debug)]
struct Failsafe<S> {
    breaker: FailsafeBreaker,
    inner: S,
}

impl<S: Service<u64>> Service<u64> for Failsafe<S> {
    type Response = S::Response;
    type Error = failsafe::Error<S::Error>;
    type Future = failsafe::futures::ResponseFuture<
        S::Future,
        <FailsafeBreaker as failsafe::futures::CircuitBreaker>::FailurePolicy,
        (),
        failsafe::Any,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(failsafe::Error::Inner)
    }

    fn call(&mut self, req: u64) -> Self::Future {
        self.breaker.call(self.inner.call(req))
    }
}

fn failsafe<S>(inner: S) -> Failsafe<S> {
    Failsafe {
        breaker: failsafe::Config::new().build(),
        inner,
    }
}

fn failsafe_open<S>(inner: S) -> Failsafe<S> {
    let svc = failsafe(inner);
    // The default policy opens after five consecutive failures; sixteen leave no doubt.
    for _ in 0..16 {
        svc.breaker.on_error();
    }
    assert!(!svc.breaker.is_call_permitted(), "failsafe breaker opened");
    svc
}

fn peer() -> PeerLayer<tower_resilience_circuitbreaker::DefaultClassifier> {
    PeerLayer::builder().build().expect("defaults are valid")
}

fn peer_open<S: Clone>(
    inner: S,
) -> tower_resilience_circuitbreaker::CircuitBreaker<
    S,
    tower_resilience_circuitbreaker::DefaultClassifier,
> {
    let svc = peer().layer_fn(inner);
    futures::executor::block_on(svc.force_open());
    svc
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let group = "circuit_breaker/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
    single_row(&mut g, group, &rt, "tower-concurrency-limit", svc);
    single_row(&mut g, group, &rt, "failsafe", failsafe(Echo));
    single_row(&mut g, group, &rt, "tower-resilience", peer().layer(Echo));
    let svc = count_window().layer().layer(Echo);
    single_row(&mut g, group, &rt, "bulwark-count-window", svc);
    let svc = time_window().layer().layer(Echo);
    single_row(&mut g, group, &rt, "bulwark-time-window", svc);
    single_row(
        &mut g,
        group,
        &rt,
        "failsafe-open-rejection",
        failsafe_open(Echo),
    );
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience-open-rejection",
        peer_open(Echo),
    );
    let svc = open().layer().layer(Echo);
    single_row(&mut g, group, &rt, "bulwark-open-rejection", svc);
    g.finish();

    let group = "circuit_breaker/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    single_row(&mut g, group, &rt, "failsafe", failsafe(PendingOnce));
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        peer().layer(PendingOnce),
    );
    let svc = count_window().layer().layer(PendingOnce);
    single_row(&mut g, group, &rt, "bulwark-count-window", svc);
    g.finish();

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("circuit_breaker/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        let svc = ConcurrencyLimitLayer::new(LIMIT).layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower-concurrency-limit", svc);
        contended_row(&mut g, &rt, tasks, "failsafe", failsafe(Echo));
        contended_row(&mut g, &rt, tasks, "tower-resilience", peer().layer(Echo));
        let svc = count_window().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark-count-window", svc);
        let svc = time_window().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark-time-window", svc);
        let svc = open().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark-open-rejection", svc);
        g.finish();
    }
}
