//! Retry around a circuit breaker: an open circuit ends the call at once by default (fail fast),
//! is waited out only when asked and within bounds, and is never called while open. The default
//! hint sees the rejection through every door: tower's `BoxError`, the standalone breaker's
//! `bulwark::Error<E>` and the pipeline's.
#![cfg(all(feature = "retry", feature = "circuit-breaker"))]

use crate::common as retry_common;
use retry_common::{MS, fixed, recorder};

use bulwark::Error;
use bulwark::ServiceBuilderExt;
use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, State};
use bulwark::retry::{Event, GiveUpReason, Retry, RetryBuilder, RetryReason};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

const OPEN: Duration = Duration::from_secs(5);

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .count_window(2)
        .minimum_calls(2)
        .failure_rate_threshold(0.5)
        .open_duration(OPEN)
        .build()
        .unwrap()
}

/// Four attempts 10 ms apart, no budget.
fn four_attempts() -> RetryBuilder {
    Retry::builder()
        .max_attempts(4)
        .backoff(fixed(10 * MS))
        .no_budget()
}

/// Fails its first two calls, then succeeds; counts calls.
fn downstream(
    calls: Arc<AtomicU32>,
) -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send {
    service_fn(move |req: u32| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                Err::<u32, BoxError>("unavailable".into())
            } else {
                Ok(req)
            }
        }
    })
}

fn gave_up(reason: GiveUpReason) -> Event {
    Event::GaveUp {
        name: "retry".into(),
        attempts: 3,
        reason,
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_fails_fast_by_default() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&four_attempts().on_event(on_event).build().unwrap())
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));

    // Attempts 1 and 2 fail and trip the breaker; attempt 3 is rejected, and the call ends with
    // that rejection instead of spending its last attempt or waiting 5 s.
    let start = Instant::now();
    let err = svc.ready().await.unwrap().call(7).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        start.elapsed(),
        20 * MS,
        "two backoff delays, no wait for the circuit"
    );
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&gave_up(GiveUpReason::CircuitOpen))
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_in_front_of_an_open_circuit_does_not_hold_its_caller() {
    // The case: two attempts in front of a breaker open for 30 s.
    let breaker = CircuitBreaker::builder()
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap();
    let retry = Retry::builder().max_attempts(2).build().unwrap();
    let cb = breaker.clone();
    let trip = || async move {
        for _ in 0..10 {
            let _ = cb.run(|| async { Err::<(), _>("down") }).await;
        }
    };
    trip().await;
    assert_eq!(breaker.state(), State::Open);
    let start = Instant::now();
    let out = retry
        .run(|_| breaker.run(|| async { Ok::<_, &str>(()) }))
        .await;
    assert!(matches!(out, Err(Error::CircuitOpen(_))));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_waited_out_when_asked_never_called_while_open() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let retry = four_attempts()
        .wait_for_open_circuit(Duration::from_secs(10))
        .on_event(on_event)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));

    // Attempts 1 and 2 fail and trip the breaker; attempt 3 is rejected by the open circuit and
    // the retry waits until it half-opens; attempt 4 is the probe, and succeeds.
    assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2],
        Event::Retrying {
            name: "retry".into(),
            attempt: 3,
            delay: OPEN - 10 * MS,
            reason: RetryReason::Error,
            hinted: true
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_not_waited_for_longer_than_asked() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let retry = four_attempts()
        .wait_for_open_circuit(Duration::from_secs(1))
        .on_event(on_event)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));

    let err = svc.ready().await.unwrap().call(7).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&gave_up(GiveUpReason::CircuitOpen))
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_past_the_time_limit_gives_up_with_its_rejection() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let retry = four_attempts()
        .wait_for_open_circuit(Duration::from_secs(10))
        .stop_retrying_after(Duration::from_secs(1))
        .on_event(on_event)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));

    let err = svc.ready().await.unwrap().call(7).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&gave_up(GiveUpReason::TimeUp))
    );
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_circuit_is_never_waited_for() {
    let (events, on_event) = recorder();
    let breaker = breaker();
    breaker.force_open();
    let retry = four_attempts()
        .wait_for_open_circuit(Duration::from_secs(3600))
        .on_event(on_event)
        .build()
        .unwrap();
    let out = retry
        .run(|_| breaker.run(|| async { Ok::<_, &str>(()) }))
        .await;
    assert!(matches!(out, Err(Error::CircuitOpen(_))));
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::CircuitOpen
        })
    );
}

#[tokio::test(start_paused = true)]
async fn standalone_the_default_hint_sees_the_breakers_own_error() {
    // No hint written by hand: the standalone breaker's generic `Error<E>` is recognised.
    for wait in [None, Some(Duration::from_secs(10))] {
        let (events, on_event) = recorder();
        let breaker = breaker();
        let mut retry = four_attempts().on_event(on_event);
        if let Some(wait) = wait {
            retry = retry.wait_for_open_circuit(wait);
        }
        let retry = retry.build().unwrap();
        let calls = AtomicU32::new(0);
        let out = retry
            .run(|_| {
                breaker.run(|| async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 | 1 => Err("unavailable"),
                        _ => Ok(7),
                    }
                })
            })
            .await;
        let events = events.lock().unwrap();
        match wait {
            None => {
                assert!(matches!(out, Err(Error::CircuitOpen(_))), "{out:?}");
                assert_eq!(calls.load(Ordering::SeqCst), 2);
                assert_eq!(events.last(), Some(&gave_up(GiveUpReason::CircuitOpen)));
            }
            Some(_) => {
                assert_eq!(out, Ok(7));
                assert_eq!(calls.load(Ordering::SeqCst), 3);
                assert!(matches!(
                    events[2],
                    Event::Retrying { attempt: 3, hinted: true, delay, .. } if delay == OPEN - 10 * MS
                ));
            }
        }
    }
}

#[cfg(all(feature = "timeout", feature = "bulkhead"))]
#[tokio::test(start_paused = true)]
async fn standalone_the_default_hint_sees_the_pipelines_flat_error() {
    use bulwark::pipeline::Pipeline;
    let (events, on_event) = recorder();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker())
        .build()
        .unwrap();
    let retry = four_attempts().on_event(on_event).build().unwrap();
    let calls = AtomicU32::new(0);
    let out = retry
        .run(|_| {
            pipeline.run(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>("unavailable") }
            })
        })
        .await;
    assert!(
        matches!(out, Err(bulwark::Error::CircuitOpen(_))),
        "{out:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&gave_up(GiveUpReason::CircuitOpen))
    );
}

/// The circuit reopens in exactly the time the retry may wait for it: that is not longer than
/// asked, so the retry waits, and the half-open probe answers the call.
#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_waited_for_when_it_reopens_in_exactly_the_time_asked() {
    let calls = Arc::new(AtomicU32::new(0));
    // The circuit opens at the second failure (10 ms in), and turns the third attempt away at
    // 20 ms: open for 5 s - 10 ms more.
    let retry = four_attempts()
        .wait_for_open_circuit(OPEN - 10 * MS)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));
    let start = Instant::now();
    let answer = svc.ready().await.unwrap().call(7).await.unwrap();
    assert_eq!(answer, 7);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the probe was the third call"
    );
    assert_eq!(start.elapsed(), OPEN + 10 * MS);
}

/// A hint of the caller's own still lets the retry see an open circuit, and fail fast on it.
#[tokio::test(start_paused = true)]
async fn a_user_hint_still_sees_an_open_circuit() {
    let calls = Arc::new(AtomicU32::new(0));
    let retry = four_attempts()
        .retry_after(|_: &Result<u32, BoxError>| None)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));
    let start = Instant::now();
    let err = svc.ready().await.unwrap().call(7).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), 20 * MS, "no wait for the circuit");
}
