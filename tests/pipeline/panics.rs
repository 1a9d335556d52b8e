//! A call whose closure or attempt panics: the panic reaches the caller, and the pipeline is as
//! if the attempt had been dropped: its bulkhead slot is back, a half-open probe's slot is free
//! (the circuit is not left waiting for a probe that never ends), and the next call goes through.
//! Both doors.

use super::drop_order::OnDrop;
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::pipeline::Pipeline;
use bulwark::retry::Retry;
use futures::FutureExt;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};

const OPEN: Duration = Duration::from_millis(50);

/// A bulkhead of one slot, a breaker that opens on one failure with one probe, and the
/// pipeline over both (a retry of three attempts, an attempt timeout).
fn setup() -> (Pipeline, CircuitBreaker, Bulkhead) {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_duration(OPEN)
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let pipeline = Pipeline::builder()
        .retry(
            Retry::builder()
                .max_attempts(3)
                .no_budget()
                .build()
                .unwrap(),
        )
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    (pipeline, breaker, bulkhead)
}

/// Opens the circuit and waits it out: the next attempt is the one probe.
async fn half_open(pipeline: &Pipeline, breaker: &CircuitBreaker) {
    let _ = pipeline
        .run(|| async { Err::<u32, _>(io::Error::other("down")) })
        .await;
    assert_eq!(breaker.state(), State::Open);
    tokio::time::sleep(OPEN).await;
}

/// An attempt that panics when polled, after `pending` polls.
struct Panics {
    pending: u32,
}

impl Future for Panics {
    type Output = Result<u32, io::Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.pending == 0 {
            panic!("the attempt panicked");
        }
        self.pending -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Nothing is held, and the probe that comes next closes the circuit (after the open duration,
/// if the panicking probe was recorded as a failure: a timed-out one).
async fn recovered(pipeline: &Pipeline, breaker: &CircuitBreaker, bulkhead: &Bulkhead) {
    assert_eq!(bulkhead.metrics().in_flight, 0);
    assert_eq!(breaker.metrics().probes_in_flight, 0);
    if breaker.state() == State::Open {
        tokio::time::sleep(OPEN).await;
    }
    let ok = pipeline.run(|| async { Ok::<_, io::Error>(1) }).await;
    assert_eq!(ok.unwrap(), 1);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_closure_or_attempt_leaves_nothing_held() {
    let (pipeline, breaker, bulkhead) = setup();
    for pending in [None, Some(0), Some(2)] {
        half_open(&pipeline, &breaker).await;
        let call = pipeline.run(|| match pending {
            None => panic!("the closure panicked"),
            Some(pending) => Panics { pending },
        });
        let out = AssertUnwindSafe(call).catch_unwind().await;
        assert!(out.is_err(), "the panic reaches the caller");
        recovered(&pipeline, &breaker, &bulkhead).await;
    }
}

/// The tower door: the inner service's `call`, or its response future, panics.
#[derive(Clone)]
struct Inner;

impl Service<Option<u32>> for Inner {
    type Response = u32;
    type Error = io::Error;
    type Future = Panics;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, pending: Option<u32>) -> Panics {
        match pending {
            None => panic!("the service's call panicked"),
            Some(pending) => Panics { pending },
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_inner_service_leaves_nothing_held() {
    let (pipeline, breaker, bulkhead) = setup();
    let layer = pipeline.layer();
    for pending in [None, Some(0), Some(2)] {
        half_open(&pipeline, &breaker).await;
        let mut svc = layer.layer(Inner);
        let call = svc.ready().await.unwrap().call(pending);
        let out = AssertUnwindSafe(call).catch_unwind().await;
        assert!(out.is_err(), "the panic reaches the caller");
        recovered(&pipeline, &breaker, &bulkhead).await;
    }
}

/// An attempt ready with `Ok(1)` at once, or pending for ever, whose drop panics.
fn panics_on_drop(ready: bool) -> OnDrop<impl FnMut()> {
    OnDrop {
        ready,
        on_drop: || panic!("the attempt's drop panicked"),
    }
}

/// The attempt's future is dropped before its slot and ticket go back; a drop that panics still
/// gives them back (the panic reaches the caller): when the attempt completed, timed out, or was
/// abandoned with its call.
#[tokio::test(start_paused = true)]
async fn an_attempt_whose_drop_panics_still_gives_its_slot_and_probe_back() {
    let (pipeline, breaker, bulkhead) = setup();
    // Completed, then timed out (the attempt timeout of one second).
    for ready in [true, false] {
        half_open(&pipeline, &breaker).await;
        let call = pipeline.run(|| panics_on_drop(ready));
        assert!(AssertUnwindSafe(call).catch_unwind().await.is_err());
        recovered(&pipeline, &breaker, &bulkhead).await;
    }
    // Abandoned: the call is dropped while its attempt is pending.
    half_open(&pipeline, &breaker).await;
    let mut call = Box::pin(pipeline.run(|| panics_on_drop(false)));
    assert!((&mut call).now_or_never().is_none());
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| drop(call))).is_err());
    recovered(&pipeline, &breaker, &bulkhead).await;
}
