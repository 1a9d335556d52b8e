//! Behaviour of the timeout pattern, standalone and as a tower layer, with paused time.

use crate::support;

use bulwark::ServiceBuilderExt;
use bulwark::timeout::{Elapsed, Event, Timeout, TimeoutLayer};
use futures::{FutureExt, poll};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{advance, sleep};
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An inner service that sleeps for the requested time and then answers with it.
fn sleeper() -> impl Service<Duration, Response = Duration, Error = BoxError, Future: Send> + Clone
{
    service_fn(|d: Duration| async move {
        sleep(d).await;
        Ok::<_, BoxError>(d)
    })
}

#[derive(Debug, PartialEq)]
struct Boom(u32);
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom {}", self.0)
    }
}
impl std::error::Error for Boom {}

#[tokio::test(start_paused = true)]
async fn run_fires_at_the_deadline_and_not_before() {
    let timeout = Timeout::new(ms(100));
    let mut fut = pin!(timeout.run(sleep(ms(500))));
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(99)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(1)).await;
    match poll!(fut.as_mut()) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.after(), ms(100));
            assert!(!e.while_waiting_for_readiness());
        }
        other => panic!("expected Elapsed at the deadline, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn layer_fires_at_the_deadline_and_not_before() {
    let mut svc = TimeoutLayer::new(ms(100)).layer(sleeper());
    let mut fut = pin!(svc.ready().await.unwrap().call(ms(500)));
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(99)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(1)).await;
    let Poll::Ready(Err(err)) = poll!(fut.as_mut()) else {
        panic!("expected an error at the deadline");
    };
    assert_eq!(
        err.downcast_ref::<Elapsed>().map(Elapsed::after),
        Some(ms(100))
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_counts_from_the_call_not_the_first_poll() {
    let timeout = Timeout::new(ms(100));
    let fut = timeout.run(sleep(ms(500)));
    advance(ms(60)).await;
    let mut fut = pin!(fut);
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(40)).await;
    assert!(matches!(poll!(fut.as_mut()), Poll::Ready(Err(_))));
}

#[tokio::test(start_paused = true)]
async fn call_finishing_before_the_deadline_succeeds() {
    let mut svc = TimeoutLayer::new(ms(100)).layer(sleeper());
    let out = svc.ready().await.unwrap().call(ms(99)).await.unwrap();
    assert_eq!(out, ms(99));
    assert_eq!(Timeout::new(ms(100)).run(async { 7 }).await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn inner_error_passes_through_untouched() {
    let mut svc =
        TimeoutLayer::new(ms(100)).layer(service_fn(|n: u32| async move { Err::<(), _>(Boom(n)) }));
    let err = svc.ready().await.unwrap().call(3).await.unwrap_err();
    assert_eq!(err.downcast_ref::<Boom>(), Some(&Boom(3)));
    assert!(!err.is::<Elapsed>());

    let standalone = Timeout::new(ms(100))
        .run(async { Err::<(), _>(Boom(4)) })
        .await;
    assert_eq!(standalone, Ok(Err(Boom(4))));
}

#[tokio::test(start_paused = true)]
async fn without_backpressure_timeout_poll_ready_waits_as_long_as_the_inner_service() {
    let (inner, mut handle) = mock::pair::<u32, u32>();
    handle.allow(0);
    let mut svc = TimeoutLayer::new(ms(100)).layer(inner);
    let mut ready = pin!(svc.ready());
    assert!(poll!(ready.as_mut()).is_pending());
    advance(Duration::from_secs(3600)).await;
    assert!(poll!(ready.as_mut()).is_pending());
}

#[tokio::test(start_paused = true)]
async fn backpressure_timeout_fails_the_next_call_without_calling_the_inner_service() {
    let (inner, mut handle) = mock::pair::<u32, u32>();
    handle.allow(0);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut svc = TimeoutLayer::new(ms(100))
        .backpressure_timeout(ms(50))
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .layer(inner);

    let mut ready = pin!(svc.ready());
    assert!(poll!(ready.as_mut()).is_pending());
    advance(ms(49)).await;
    assert!(poll!(ready.as_mut()).is_pending());
    advance(ms(1)).await;
    let Poll::Ready(Ok(svc)) = poll!(ready.as_mut()) else {
        panic!("a ready timeout reports ready, never an error");
    };
    let err = svc.call(1).await.unwrap_err();
    let elapsed = err.downcast_ref::<Elapsed>().expect("an Elapsed");
    assert!(elapsed.while_waiting_for_readiness());
    assert_eq!(elapsed.after(), ms(50));
    assert!(
        handle.next_request().now_or_never().is_none(),
        "inner service was called"
    );
    assert_eq!(
        *events.lock().unwrap(),
        vec![Event::TimedOut {
            name: "timeout".into(),
            after: ms(50),
            waiting_for_readiness: true
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn backpressure_timeout_rearms_for_each_wait() {
    let (inner, mut handle) = mock::pair::<u32, u32>();
    handle.allow(0);
    let mut svc = TimeoutLayer::new(ms(100))
        .backpressure_timeout(ms(50))
        .layer(inner);
    for _ in 0..3 {
        let mut ready = pin!(svc.ready());
        assert!(poll!(ready.as_mut()).is_pending());
        advance(ms(49)).await;
        assert!(
            poll!(ready.as_mut()).is_pending(),
            "the wait got less than its full time"
        );
        advance(ms(1)).await;
        assert!(matches!(poll!(ready.as_mut()), Poll::Ready(Ok(_))));
        assert!(svc.call(1).await.is_err());
    }
    // Once the inner service is ready again, calls go through.
    handle.allow(1);
    let fut = svc.ready().await.unwrap().call(2);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 2);
    send.send_response(20);
    assert_eq!(fut.await.unwrap(), 20);
}

#[tokio::test(start_paused = true)]
async fn per_request_override_chooses_each_requests_timeout() {
    // Requests above one second are "reports" and get ten seconds.
    let layer = TimeoutLayer::new(ms(100)).per_request(|d: &Duration| {
        (*d > Duration::from_secs(1)).then_some(Duration::from_secs(10))
    });
    let mut svc = layer.layer(sleeper());

    let report = svc
        .ready()
        .await
        .unwrap()
        .call(Duration::from_secs(5))
        .await;
    assert_eq!(report.unwrap(), Duration::from_secs(5));

    let lookup = svc.ready().await.unwrap().call(ms(500)).await.unwrap_err();
    assert_eq!(
        lookup.downcast_ref::<Elapsed>().map(Elapsed::after),
        Some(ms(100))
    );
}

#[tokio::test(start_paused = true)]
async fn duration_max_means_no_timeout_and_never_panics() {
    let timeout = Timeout::new(Duration::MAX);
    let mut fut = pin!(timeout.run(sleep(Duration::from_secs(86_400 * 365))));
    assert!(poll!(fut.as_mut()).is_pending());
    assert_eq!(fut.as_ref().get_ref().deadline(), None);
    advance(Duration::from_secs(86_400 * 365)).await;
    assert_eq!(poll!(fut.as_mut()), Poll::Ready(Ok(())));

    let mut svc = TimeoutLayer::new(ms(10))
        .per_request(|_: &Duration| Some(Duration::MAX))
        .layer(sleeper());
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(Duration::from_secs(60))
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn timed_out_event_reports_the_duration_and_success_reports_nothing() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let timeout = Timeout::new(ms(100)).on_event(move |e| seen.lock().unwrap().push(e.clone()));
    assert!(timeout.run(sleep(ms(10))).await.is_ok());
    assert!(events.lock().unwrap().is_empty());
    assert!(timeout.run(sleep(ms(200))).await.is_err());
    assert_eq!(
        *events.lock().unwrap(),
        vec![Event::TimedOut {
            name: "timeout".into(),
            after: ms(100),
            waiting_for_readiness: false
        }]
    );
    // The layer made from the handle shares its listeners.
    let mut svc = timeout.layer().layer(sleeper());
    assert!(svc.ready().await.unwrap().call(ms(200)).await.is_err());
    assert_eq!(events.lock().unwrap().len(), 2);
}

/// A future that never completes and counts its drops.
struct Tracked(Arc<AtomicUsize>);
impl Future for Tracked {
    type Output = Result<(), BoxError>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Pending
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_cancels_the_inner_call_and_the_timer() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut svc = TimeoutLayer::new(ms(100)).layer(service_fn(move |_: ()| {
        std::future::ready(Ok::<_, BoxError>(Tracked(d.clone())))
    }));
    let inner = svc.ready().await.unwrap().call(()).await.unwrap();
    // Wrap the never-ending future itself, standalone and through the layer.
    let mut run = Box::pin(Timeout::new(ms(100)).run(inner));
    assert!(poll!(run.as_mut()).is_pending());
    drop(run);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let d = drops.clone();
    let mut svc = TimeoutLayer::new(ms(100)).layer(service_fn(move |_: ()| Tracked(d.clone())));
    let mut fut = Box::pin(svc.ready().await.unwrap().call(()));
    assert!(poll!(fut.as_mut()).is_pending());
    drop(fut);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // No timer is left behind: advancing past the deadline wakes nothing and panics nothing.
    advance(ms(500)).await;
}

#[tokio::test(start_paused = true)]
async fn composes_with_concurrency_limit_and_buffer() {
    let mut svc = ServiceBuilder::new()
        .buffer(16)
        .bulwark_timeout(ms(100))
        .concurrency_limit(1)
        .service(sleeper());

    // Two calls of 60 ms through a limit of one: the second waits for the first, and the
    // timeout covers only its own call, not its wait for readiness.
    let a = svc.ready().await.unwrap().call(ms(60));
    let b = svc.ready().await.unwrap().call(ms(60));
    let c = svc.ready().await.unwrap().call(ms(150));
    let (a, b, c) = tokio::join!(a, b, c);
    assert_eq!(a.unwrap(), ms(60));
    assert_eq!(b.unwrap(), ms(60));
    assert!(c.unwrap_err().is::<Elapsed>());
}

#[tokio::test(start_paused = true)]
async fn backpressure_timeout_under_concurrency_limit_sheds_the_waiting_call() {
    let mut svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new(ms(500)).backpressure_timeout(ms(50)))
        .concurrency_limit(1)
        .service(sleeper());
    let mut other = svc.clone();
    let running = tokio::spawn(async move { other.ready().await.unwrap().call(ms(200)).await });
    tokio::task::yield_now().await;
    let shed = svc.ready().await.unwrap().call(ms(10)).await.unwrap_err();
    assert!(
        shed.downcast_ref::<Elapsed>()
            .unwrap()
            .while_waiting_for_readiness()
    );
    assert_eq!(running.await.unwrap().unwrap(), ms(200));
}

#[test]
fn zero_allocations_per_call_when_the_inner_call_succeeds() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut svc = TimeoutLayer::new(ms(100)).layer(service_fn(|n: u64| {
        std::future::ready(Ok::<_, BoxError>(n))
    }));
    let per_call = support::allocations_per_call(10, 1000, || {
        let out = svc
            .ready()
            .now_or_never()
            .unwrap()
            .unwrap()
            .call(1)
            .now_or_never();
        assert!(matches!(out, Some(Ok(1))));
    });
    assert_eq!(per_call, 0.0, "layer allocates on the success path");

    let timeout = Timeout::new(ms(100));
    let per_call = support::allocations_per_call(10, 1000, || {
        assert_eq!(timeout.run(async { 1 }).now_or_never(), Some(Ok(1)));
    });
    assert_eq!(
        per_call, 0.0,
        "standalone run allocates on the success path"
    );
}

#[test]
fn arming_the_timer_adds_no_allocation_when_the_inner_call_waits() {
    // `block_on` itself may allocate, so the bare service run the same way is the reference.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let waits_once = service_fn(|n: u64| async move {
        tokio::task::yield_now().await;
        Ok::<_, BoxError>(n)
    });
    let mut bare = waits_once;
    let mut timed = TimeoutLayer::new(ms(100)).layer(waits_once);
    let bare_per_call = support::allocations_per_call(10, 100, || {
        rt.block_on(async { assert_eq!(bare.ready().await.unwrap().call(2).await.unwrap(), 2) })
    });
    let timed_per_call = support::allocations_per_call(10, 100, || {
        rt.block_on(async { assert_eq!(timed.ready().await.unwrap().call(2).await.unwrap(), 2) })
    });
    assert_eq!(timed_per_call, bare_per_call, "arming the timer allocates");
}

#[test]
fn elapsed_display_is_short_and_lower_case() {
    let mut svc = TimeoutLayer::new(ms(5))
        .backpressure_timeout(ms(7))
        .layer(sleeper());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let err = rt.block_on(async { svc.ready().await.unwrap().call(ms(50)).await.unwrap_err() });
    assert_eq!(err.to_string(), "timed out after 5ms");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_fixed_when_the_call_is_made_not_when_first_polled() {
    let timeout = Timeout::new(ms(100));
    let made = tokio::time::Instant::now();
    let mut fut = pin!(timeout.run(sleep(ms(150))));
    assert_eq!(fut.as_ref().get_ref().deadline(), Some(made + ms(100)));
    // First polled 60 ms later: the timer is armed at the deadline fixed at the call.
    advance(ms(60)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    assert_eq!(fut.as_ref().get_ref().deadline(), Some(made + ms(100)));
    advance(ms(39)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(1)).await;
    let err = poll!(fut.as_mut());
    assert!(matches!(err, Poll::Ready(Err(e)) if e.after() == ms(100)));
}
