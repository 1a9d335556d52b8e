//! The retry pattern, tower door: readiness before every attempt, request copies, non-Clone
//! requests, the deadline while waiting for readiness, shared state across layers.
#![cfg(feature = "retry")]

use bulwark::ServiceBuilderExt;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::retry::{Event, GiveUpReason, Retry, RetryBudget};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

const MS: Duration = Duration::from_millis(1);

fn fixed(delay: Duration) -> Backoff {
    Backoff::constant(delay)
        .jitter(Jitter::None)
        .build()
        .unwrap_or_default()
}

fn retry(max_attempts: u32, delay: Duration) -> Retry {
    Retry::builder()
        .max_attempts(max_attempts)
        .backoff(fixed(delay))
        .no_budget()
        .build()
        .unwrap()
}

/// A service that fails its first `failures` calls, counting every call.
fn flaky(
    failures: u32,
    calls: Arc<AtomicU32>,
) -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send {
    service_fn(move |req: u32| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n <= failures {
                Err::<u32, BoxError>("unavailable".into())
            } else {
                Ok(req * 10)
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn retries_under_concurrency_limit_one_ready_the_clone_before_every_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    // tower's ConcurrencyLimit panics if a clone is called without being made ready first.
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry(4, MS))
        .concurrency_limit(1)
        .service(flaky(3, calls.clone()));
    let out = svc.ready().await.unwrap().call(7).await.unwrap();
    assert_eq!(out, 70);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_sleeping_retry_holds_no_concurrency_permit() {
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = ServiceBuilder::new()
        .layer(retry(2, Duration::from_secs(10)).layer())
        .concurrency_limit(1)
        .service(flaky(1, calls.clone()));
    let first = tokio::spawn(svc.ready().await.unwrap().call(1));
    // Let the first call fail and start its 10 s sleep.
    tokio::time::sleep(MS).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Meanwhile another call gets the only permit and completes.
    let second = svc.ready().await.unwrap().call(2).await.unwrap();
    assert_eq!(second, 20);
    assert_eq!(first.await.unwrap().unwrap(), 10);
}

#[tokio::test(start_paused = true)]
async fn the_retry_waits_for_the_inner_service_to_be_ready_again() {
    let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
    let mut svc = retry(3, Duration::ZERO).layer().layer(mock);
    handle.allow(1);
    let fut = svc.ready().await.unwrap().call("req");
    let task = tokio::spawn(fut);

    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "req");
    send.send_error("boom");
    // The mock allowed one request only: the retry must wait in poll_ready, not call.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!task.is_finished());

    handle.allow(1);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "req");
    send.send_response("ok");
    assert_eq!(task.await.unwrap().unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_wait_for_readiness_and_returns_the_last_error() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let retry = Retry::builder()
        .max_attempts(3)
        .deadline(Duration::from_secs(1))
        .backoff(fixed(100 * MS))
        .no_budget()
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let (mock, mut handle) = mock::pair::<&'static str, &'static str>();
    let mut svc = retry.layer().layer(mock);
    handle.allow(1);
    let task = tokio::spawn(svc.ready().await.unwrap().call("req"));
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("first failure");

    let start = tokio::time::Instant::now();
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "first failure");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&Event::GaveUp {
            attempts: 1,
            reason: GiveUpReason::Deadline
        })
    );
}

/// Counts its clones.
#[derive(Debug)]
struct Counted(Arc<AtomicU32>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(self.0.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn the_request_is_copied_only_before_attempts_another_may_follow() {
    let clones = Arc::new(AtomicU32::new(0));
    let always_fails = service_fn(|_: Counted| async { Err::<(), BoxError>("no".into()) });

    // One attempt allowed: nothing is ever copied.
    let mut once = retry(1, MS).layer().layer(always_fails);
    let _ = once
        .ready()
        .await
        .unwrap()
        .call(Counted(clones.clone()))
        .await;
    assert_eq!(clones.load(Ordering::SeqCst), 0);

    // Three attempts: copies before the first and the second, none before the last.
    let mut thrice = retry(3, MS).layer().layer(always_fails);
    let _ = thrice
        .ready()
        .await
        .unwrap()
        .call(Counted(clones.clone()))
        .await;
    assert_eq!(clones.load(Ordering::SeqCst), 2);
}

/// A request that cannot be cloned (a body readable once).
#[derive(Debug)]
struct Streaming {
    bytes: Vec<u8>,
}

#[tokio::test(start_paused = true)]
async fn non_clone_requests_are_retried_with_a_rebuild_hook() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Streaming| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err::<usize, BoxError>("reset".into())
            } else {
                Ok(req.bytes.len())
            }
        }
    });
    let mut svc = retry(3, MS)
        .layer()
        .rebuild_with(|req: &Streaming| {
            Some(Streaming {
                bytes: req.bytes.clone(),
            })
        })
        .layer(inner);
    let len = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming {
            bytes: vec![1, 2, 3],
        })
        .await
        .unwrap();
    assert_eq!((len, calls.load(Ordering::SeqCst)), (3, 2));
}

/// An error that gives the request back, as clients that fail before sending do.
#[derive(Debug)]
struct NotSent(Option<Streaming>);

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection not ready; request not sent")
    }
}

impl std::error::Error for NotSent {}

#[tokio::test(start_paused = true)]
async fn non_clone_requests_are_retried_from_the_request_an_error_gives_back() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Streaming| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                Err::<usize, BoxError>(NotSent(Some(req)).into())
            } else {
                Ok(req.bytes.len())
            }
        }
    });
    let mut svc = retry(3, MS)
        .layer()
        .recover_with(|err: &mut BoxError| err.downcast_mut::<NotSent>()?.0.take())
        .layer(inner);
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming { bytes: vec![9; 4] })
        .await;
    assert_eq!((out.unwrap(), calls.load(Ordering::SeqCst)), (4, 3));
}

#[tokio::test(start_paused = true)]
async fn requests_with_no_copy_are_sent_once() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let retry = Retry::builder()
        .no_budget()
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_: Streaming| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), BoxError>("reset".into()) }
    });
    let mut svc = retry
        .layer()
        .rebuild_with(|_: &Streaming| None)
        .layer(inner);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming { bytes: vec![] })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "reset");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        events.lock().unwrap()[..],
        [Event::GaveUp {
            attempts: 1,
            reason: GiveUpReason::NoRequest
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn every_layer_and_clone_of_one_handle_shares_its_budget() {
    let budget = RetryBudget::builder()
        .percent(0.0)
        .min_per_second(0)
        .build()
        .unwrap();
    let retry = Retry::builder().budget(budget.clone()).build().unwrap();
    let layer = retry.layer();
    let calls = Arc::new(AtomicU32::new(0));
    let mut a = layer.layer(flaky(0, calls.clone()));
    let mut b = layer.layer(flaky(0, calls.clone())).clone();
    let mut c = ServiceBuilder::new()
        .bulwark_retry(&retry)
        .service(flaky(0, calls.clone()));
    a.ready().await.unwrap().call(1).await.unwrap();
    b.ready().await.unwrap().call(2).await.unwrap();
    c.ready().await.unwrap().call(3).await.unwrap();
    assert_eq!(budget.metrics().requests, 3);
}

#[tokio::test(start_paused = true)]
async fn an_http_aware_predicate_retries_503_with_its_retry_after() {
    #[derive(Clone, Debug, PartialEq)]
    struct Response {
        status: u16,
        retry_after: Option<u64>,
    }
    let retry = Retry::builder()
        .max_attempts(3)
        .retry_if(|out: &Result<Response, BoxError>| match out {
            Ok(r) => r.status == 503,
            Err(_) => true,
        })
        .retry_after(|out: &Result<Response, BoxError>| {
            out.as_ref().ok()?.retry_after.map(Duration::from_secs)
        })
        .no_budget()
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_: ()| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Ok::<_, BoxError>(match n {
                0 => Response {
                    status: 503,
                    retry_after: Some(2),
                },
                _ => Response {
                    status: 200,
                    retry_after: None,
                },
            })
        }
    });
    let mut svc = retry.layer().layer(inner);
    let start = tokio::time::Instant::now();
    let out = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}
