//! The tower door: the service contract (tower-test), composition, waiting with the service
//! made ready for the call.

use crate::limiter;
use bulwark::ServiceBuilderExt;
use bulwark::rate_limit::{RateLimitLayer, RateLimited, RateLimiter};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

const SEC: Duration = Duration::from_secs(1);

/// One call a second, and a call may wait up to a second for its turn.
fn waiting_limiter() -> RateLimiter {
    RateLimiter::builder()
        .rate(1, SEC)
        .max_wait(SEC)
        .build()
        .unwrap()
}

fn as_limited(err: BoxError) -> RateLimited {
    *err.downcast_ref::<RateLimited>()
        .unwrap_or_else(|| panic!("expected RateLimited, got {err}"))
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_the_inner_services_and_takes_no_cell() {
    let l = limiter(1, SEC, 1);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(l.layer());
    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    handle.allow(10);
    for _ in 0..5 {
        assert!(svc.poll_ready().is_ready());
    }
    // Readiness took nothing: the one cell is still there.
    assert_eq!(l.retry_after(), Duration::ZERO);
    let call = svc.call(1);
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 1);
    respond.send_response(10);
    assert_eq!(call.await.unwrap(), 10);
    assert_eq!(l.metrics().admitted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_over_the_limit_fails_in_its_future_without_reaching_the_inner_service() {
    let l = limiter(1, SEC, 1);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(l.layer());
    assert!(svc.poll_ready().is_ready());
    let first = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let err = svc.call(2).await.unwrap_err();
    assert_eq!(as_limited(err).retry_after(), SEC);
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 1);
    assert!(handle.poll_request().is_pending());
    respond.send_response(10);
    assert_eq!(first.await.unwrap(), 10);
    // The service is still usable once the turn comes.
    tokio::time::advance(SEC).await;
    assert!(svc.poll_ready().is_ready());
    let third = svc.call(3);
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 3);
    respond.send_response(30);
    assert_eq!(third.await.unwrap(), 30);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_call_calls_the_service_made_ready_for_it_when_its_turn_comes() {
    let l = waiting_limiter();
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(l.layer());
    assert!(svc.poll_ready().is_ready());
    let first = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call(2));
    assert!(futures::poll!(second.as_mut()).is_pending());
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response(10);
    assert_eq!(first.await.unwrap(), 10);
    // Not before its turn.
    assert!(handle.poll_request().is_pending());
    tokio::time::advance(SEC).await;
    // The mock panics if a clone that was not made ready is called.
    assert!(futures::poll!(second.as_mut()).is_pending());
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 2);
    respond.send_response(20);
    assert_eq!(second.await.unwrap(), 20);
    let m = l.metrics();
    assert_eq!((m.admitted, m.waited), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn layers_and_clones_share_one_limit() {
    let l = limiter(1, SEC, 2);
    let layer: RateLimitLayer = l.layer();
    let echo = service_fn(|x: u32| async move { Ok::<_, BoxError>(x) });
    let mut a = layer.layer(echo);
    let mut b = layer.layer(echo).clone();
    let mut c = ServiceBuilder::new().bulwark_rate_limit(&l).service(echo);
    assert_eq!(a.ready().await.unwrap().call(1).await.unwrap(), 1);
    assert_eq!(b.ready().await.unwrap().call(2).await.unwrap(), 2);
    assert!(
        c.ready()
            .await
            .unwrap()
            .call(3)
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
    assert!(l.run(|| async { Ok::<_, ()>(()) }).await.is_err());
    assert_eq!(layer.limiter().metrics().rejected, 2);
}

#[tokio::test(start_paused = true)]
async fn composes_under_tower_buffer_and_concurrency_limit() {
    let l = RateLimiter::builder()
        .rate(10, SEC)
        .max_wait(10 * SEC)
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .buffer(8)
        .concurrency_limit(2)
        .bulwark_rate_limit(&l)
        .service(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    let start = tokio::time::Instant::now();
    let calls = (0..10).map(|i| svc.clone().oneshot(i));
    let out: Vec<u32> = futures::future::try_join_all(calls).await.unwrap();
    assert_eq!(out, (0..10).collect::<Vec<_>>());
    // Ten calls at 10 per second, burst 1: the last one's turn is at 900 ms.
    assert!(tokio::time::Instant::now() - start >= Duration::from_millis(900));
    assert_eq!(l.metrics().waited, 9);
}

/// The `Debug` output of a response future names its state: running, waiting for its turn, or
/// failed (turned away, not yet polled).
#[tokio::test(start_paused = true)]
async fn the_debug_output_of_a_response_future_names_its_state() {
    let l = waiting_limiter();
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(l.layer());
    handle.allow(3);
    let mut futures = Vec::new();
    for n in 0..3 {
        assert!(svc.poll_ready().is_ready());
        futures.push(svc.call(n));
    }
    let debug: Vec<String> = futures.iter().map(|f| format!("{f:?}")).collect();
    assert_eq!(
        debug,
        [
            r#"ResponseFuture { state: "running" }"#,
            r#"ResponseFuture { state: "waiting" }"#,
            r#"ResponseFuture { state: "failed" }"#,
        ]
    );
}
