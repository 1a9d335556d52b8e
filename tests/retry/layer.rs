//! The retry pattern, tower door: readiness before every attempt, request copies, non-Clone
//! requests, the time limit while waiting for readiness, shared state across layers.
#![cfg(feature = "retry")]

use crate::common as retry_common;
use retry_common::{MS, fixed};

use bulwark::ServiceBuilderExt;
use bulwark::retry::{Event, GiveUpReason, Retry, RetryBudget};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

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
async fn the_time_limit_bounds_the_wait_for_readiness_and_returns_the_last_error() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let retry = Retry::builder()
        .max_attempts(3)
        .stop_retrying_after(Duration::from_secs(1))
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

    // The mock allows no second request: the retry waits for readiness until the time limit.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::advance(Duration::from_secs(1) - MS).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!task.is_finished());
    tokio::time::advance(MS).await;
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "first failure");
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::TimeUp
        })
    );
}

#[tokio::test(start_paused = true)]
async fn every_layer_and_clone_of_one_handle_shares_its_budget() {
    let budget = RetryBudget::builder()
        .ratio(0.0)
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
    let task = tokio::spawn(svc.ready().await.unwrap().call(()));
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::advance(Duration::from_secs(2) - MS).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(MS).await;
    assert_eq!(task.await.unwrap().unwrap().status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[cfg(feature = "timeout")]
#[tokio::test(start_paused = true)]
async fn a_timeout_inside_the_retry_bounds_each_attempt_and_its_elapsed_is_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    // The first attempt hangs; the timeout cuts it, and the retry tries again.
    let inner = service_fn(move |req: u32| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                std::future::pending::<()>().await;
            }
            Ok::<_, BoxError>(req)
        }
    });
    let mut svc = ServiceBuilder::new()
        .bulwark_retry(&retry(3, 10 * MS))
        .bulwark_timeout(Duration::from_millis(100))
        .service(inner);
    assert_eq!(svc.ready().await.unwrap().call(5).await.unwrap(), 5);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A service that fails its first call, then is not ready again until `gate`.
struct ReadyAt {
    gate: tokio::time::Instant,
    calls: Arc<std::sync::atomic::AtomicU32>,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Clone for ReadyAt {
    /// A clone waits on a timer of its own.
    fn clone(&self) -> Self {
        Self {
            gate: self.gate,
            calls: self.calls.clone(),
            sleep: None,
        }
    }
}

impl tower::Service<&'static str> for ReadyAt {
    type Response = &'static str;
    type Error = &'static str;
    type Future = std::future::Ready<Result<&'static str, &'static str>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        if self.calls.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return std::task::Poll::Ready(Ok(()));
        }
        let gate = self.gate;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(gate)));
        std::future::Future::poll(sleep.as_mut(), cx).map(Ok)
    }

    fn call(&mut self, _: &'static str) -> Self::Future {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(if n == 0 {
            Err("first failure")
        } else {
            Ok("ok")
        })
    }
}

/// Readiness that comes exactly when the time for retrying runs out is too late: no attempt
/// starts at the time limit.
#[tokio::test(start_paused = true)]
async fn no_attempt_starts_when_readiness_comes_at_the_time_limit() {
    let retry = Retry::builder()
        .max_attempts(3)
        .stop_retrying_after(Duration::from_secs(1))
        .backoff(fixed(100 * MS))
        .no_budget()
        .build()
        .unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let inner = ReadyAt {
        gate: tokio::time::Instant::now() + Duration::from_secs(1),
        calls: calls.clone(),
        sleep: None,
    };
    let mut svc = retry.layer().layer(inner);
    let err = svc.ready().await.unwrap().call("req").await.unwrap_err();
    assert_eq!(err.to_string(), "first failure");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "ready at the limit: too late"
    );
}
