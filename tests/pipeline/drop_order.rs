//! An attempt holds its bulkhead slot and its breaker ticket until its future is gone: whether
//! the attempt completes, times out, or its call is dropped or runs out of time, its future is
//! dropped first, and only then is the slot given back. A future that holds a connection or a
//! request in flight until it is dropped never overlaps the attempt the freed slot admits next.

use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::pipeline::Pipeline;
use bulwark::retry::Retry;
use futures::FutureExt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What an attempt saw when its future was dropped: the bulkhead's slots in use and the
/// breaker's probes in flight.
#[derive(Clone, Debug, Default)]
struct Seen(Arc<Mutex<Vec<(usize, u32)>>>);

impl Seen {
    fn take(&self) -> Vec<(usize, u32)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// An attempt: ready with `Ok(1)` if `ready`, else pending for ever; `on_drop` runs when it is
/// dropped.
pub(super) struct OnDrop<F: FnMut()> {
    pub(super) ready: bool,
    pub(super) on_drop: F,
}

impl<F: FnMut()> Future for OnDrop<F> {
    type Output = Result<u32, io::Error>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if self.ready {
            Poll::Ready(Ok(1))
        } else {
            Poll::Pending
        }
    }
}

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.on_drop)();
    }
}

/// An attempt that records, when dropped, what the bulkhead and the breaker hold then.
type Attempt = OnDrop<Box<dyn FnMut() + Send>>;

struct Setup {
    bulkhead: Bulkhead,
    breaker: CircuitBreaker,
    seen: Seen,
}

impl Setup {
    fn new() -> Self {
        Self {
            bulkhead: Bulkhead::builder().max_concurrent(2).build().unwrap(),
            breaker: CircuitBreaker::builder()
                .consecutive_failures(1)
                .open_duration(ms(50))
                .permitted_calls_in_half_open(1)
                .build()
                .unwrap(),
            seen: Seen::default(),
        }
    }

    fn attempt(&self, ready: bool) -> Attempt {
        let (bulkhead, breaker, seen) = (
            self.bulkhead.clone(),
            self.breaker.clone(),
            self.seen.clone(),
        );
        let on_drop = move || {
            let in_flight = bulkhead.metrics().in_flight;
            let probes = breaker.metrics().probes_in_flight;
            seen.0.lock().unwrap().push((in_flight, probes));
        };
        OnDrop {
            ready,
            on_drop: Box::new(on_drop),
        }
    }

    fn pipeline(&self, total: Option<Duration>, attempt: Option<Duration>) -> Pipeline {
        let mut builder = Pipeline::builder()
            .retry(
                Retry::builder()
                    .max_attempts(1)
                    .no_budget()
                    .build()
                    .unwrap(),
            )
            .circuit_breaker(self.breaker.clone())
            .bulkhead(self.bulkhead.clone());
        if let Some(total) = total {
            builder = builder.total_timeout(total);
        }
        if let Some(attempt) = attempt {
            builder = builder.attempt_timeout(attempt);
        }
        builder.build().unwrap()
    }

    /// Opens the circuit and waits it out, so that the next attempt is a half-open probe.
    async fn half_open(&self) {
        self.breaker.force_open();
        self.breaker.reset();
        let p = self.pipeline(None, None);
        let _ = p
            .run(|| async { Err::<u32, _>(io::Error::other("down")) })
            .await;
        assert_eq!(self.breaker.state(), State::Open);
        tokio::time::sleep(ms(50)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_completed_attempt_is_dropped_before_its_slot_and_probe_are_given_back() {
    let s = Setup::new();
    let pipeline = s.pipeline(None, None);
    assert_eq!(pipeline.run(|| s.attempt(true)).await.unwrap(), 1);
    assert_eq!(s.seen.take(), [(1, 0)]);
    assert_eq!(s.bulkhead.metrics().in_flight, 0);

    // A half-open probe holds its probe slot until its future is gone too.
    s.half_open().await;
    assert_eq!(pipeline.run(|| s.attempt(true)).await.unwrap(), 1);
    assert_eq!(s.seen.take(), [(1, 1)]);
    assert_eq!(s.breaker.state(), State::Closed);
    assert_eq!(s.breaker.metrics().probes_in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_drops_its_attempt_before_giving_its_slot_and_probe_back() {
    let s = Setup::new();
    let pipeline = s.pipeline(None, None);
    let mut call = Box::pin(pipeline.run(|| s.attempt(false)));
    assert!((&mut call).now_or_never().is_none());
    drop(call);
    assert_eq!(s.seen.take(), [(1, 0)]);
    assert_eq!(s.bulkhead.metrics().in_flight, 0);

    s.half_open().await;
    let mut call = Box::pin(pipeline.run(|| s.attempt(false)));
    assert!((&mut call).now_or_never().is_none());
    drop(call);
    assert_eq!(s.seen.take(), [(1, 1)]);
    assert_eq!(s.breaker.metrics().probes_in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_dropped_before_its_slot_is_given_back() {
    let s = Setup::new();
    // The attempt's own timeout.
    let pipeline = s.pipeline(None, Some(ms(10)));
    assert!(pipeline.run(|| s.attempt(false)).await.is_err());
    assert_eq!(s.seen.take(), [(1, 0)]);
    // The total deadline.
    s.breaker.reset();
    let pipeline = s.pipeline(Some(ms(10)), None);
    assert!(pipeline.run(|| s.attempt(false)).await.is_err());
    assert_eq!(s.seen.take(), [(1, 0)]);
    assert_eq!(s.bulkhead.metrics().in_flight, 0);
}

/// The tower door: the inner service's response future is the attempt.
#[derive(Clone)]
struct Inner(Arc<Setup>, bool);

impl Service<u32> for Inner {
    type Response = u32;
    type Error = io::Error;
    type Future = Attempt;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: u32) -> Attempt {
        self.0.attempt(self.1)
    }
}

#[tokio::test(start_paused = true)]
async fn through_the_layer_too_the_attempt_goes_before_its_slot() {
    let s = Arc::new(Setup::new());
    let layer = s.pipeline(None, Some(ms(10))).layer();
    let ok = layer
        .layer(Inner(s.clone(), true))
        .oneshot(7)
        .await
        .unwrap();
    assert_eq!(ok, 1);
    assert_eq!(s.seen.take(), [(1, 0)]);
    assert!(
        layer
            .layer(Inner(s.clone(), false))
            .oneshot(7)
            .await
            .is_err()
    );
    assert_eq!(s.seen.take(), [(1, 0)]);
    // The timed-out attempt opened the circuit (one failure does).
    s.breaker.reset();
    let mut svc = layer.layer(Inner(s.clone(), false));
    let mut call = Box::pin(svc.ready().await.unwrap().call(7));
    assert!((&mut call).now_or_never().is_none());
    drop(call);
    assert_eq!(s.seen.take(), [(1, 0)]);
    assert_eq!(s.bulkhead.metrics().in_flight, 0);
}
