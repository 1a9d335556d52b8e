//! Retry around a circuit breaker: an open circuit is waited out, not hammered, and never waited
//! for past the deadline.
#![cfg(all(feature = "retry", feature = "circuit-breaker"))]

mod retry_common;
use retry_common::MS;

use bulwark::ServiceBuilderExt;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, Error};
use bulwark::retry::{Event, GiveUpReason, Retry, RetryReason};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
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

fn recorder() -> (
    Arc<Mutex<Vec<Event>>>,
    impl Fn(&Event) + Send + Sync + 'static,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    })
}

fn retry(deadline: Duration, on_event: impl Fn(&Event) + Send + Sync + 'static) -> Retry {
    Retry::builder()
        .max_attempts(4)
        .deadline(deadline)
        .backoff(
            Backoff::constant(10 * MS)
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .no_budget()
        .on_event(on_event)
        .build()
        .unwrap()
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

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_waited_out_by_default_not_hammered() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry(Duration::from_secs(10), on_event))
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
            attempt: 3,
            delay: OPEN - 10 * MS,
            reason: RetryReason::Error,
            hinted: true
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_past_the_deadline_gives_up_with_its_rejection() {
    let (events, on_event) = recorder();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry(Duration::from_secs(1), on_event))
        .circuit_breaker(&breaker())
        .service(downstream(calls.clone()));

    let err = svc.ready().await.unwrap().call(7).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&Event::GaveUp {
            attempts: 3,
            reason: GiveUpReason::Deadline
        })
    );
}

#[tokio::test(start_paused = true)]
async fn standalone_the_open_circuit_hint_reads_the_breakers_error() {
    let (events, on_event) = recorder();
    let breaker = breaker();
    let retry = Retry::builder()
        .max_attempts(4)
        .backoff(
            Backoff::constant(10 * MS)
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .retry_after(|out: &Result<u32, Error<&str>>| {
            out.as_ref().err()?.as_open().map(CircuitOpen::retry_after)
        })
        .no_budget()
        .on_event(on_event)
        .build()
        .unwrap();
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
    assert_eq!(out, Ok(7));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(matches!(
        events.lock().unwrap()[2],
        Event::Retrying { attempt: 3, hinted: true, delay, .. } if delay == OPEN - 10 * MS
    ));
}
