//! The bulkhead's tower door: the service contract in both modes, composition, allocation.
#![cfg(feature = "bulkhead")]

use crate::support;

use bulwark::ServiceBuilderExt;
use bulwark::bulkhead::{Bulkhead, BulkheadFull, BulkheadLayer};
use futures::FutureExt;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

fn bulkhead(max_concurrent: usize, max_queued: usize) -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(max_concurrent)
        .max_queued(max_queued)
        .build()
        .unwrap()
}

fn as_full(err: BoxError) -> BulkheadFull {
    *err.downcast_ref::<BulkheadFull>()
        .unwrap_or_else(|| panic!("expected BulkheadFull, got {err}"))
}

#[tokio::test]
async fn default_mode_poll_ready_is_the_inner_services() {
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(bulkhead(1, 0).layer());
    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    handle.allow(1);
    assert!(svc.poll_ready().is_ready());
}

#[tokio::test]
async fn default_mode_rejection_never_reaches_the_inner_service() {
    let b = bulkhead(1, 0);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(b.layer());
    assert!(svc.poll_ready().is_ready());
    let first = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let err = svc.call(2).await.unwrap_err();
    assert!(as_full(err).is_queue_full());
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 1);
    assert!(handle.poll_request().is_pending());
    respond.send_response(10);
    assert_eq!(first.await.unwrap(), 10);
    assert_eq!(b.metrics().in_flight, 0);
}

#[tokio::test]
async fn default_mode_waiter_calls_the_service_made_ready_for_it() {
    let b = bulkhead(1, 1);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(b.layer());
    assert!(svc.poll_ready().is_ready());
    let first = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call(2));
    assert!(futures::poll!(second.as_mut()).is_pending());
    assert_eq!(b.metrics().queued, 1);
    let (_, respond) = handle.next_request().await.unwrap();
    assert!(handle.poll_request().is_pending());
    respond.send_response(10);
    assert_eq!(first.await.unwrap(), 10);
    // The mock panics if a clone that was not made ready is called.
    assert!(futures::poll!(second.as_mut()).is_pending());
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 2);
    respond.send_response(20);
    assert_eq!(second.await.unwrap(), 20);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0));
}

#[tokio::test]
async fn dropping_a_response_future_frees_its_slot() {
    for layer in [
        bulkhead(1, 0).layer(),
        bulkhead(1, 0).layer().backpressure(),
    ] {
        let b = layer.bulkhead().clone();
        let (mut svc, _handle) = mock::spawn_layer::<u32, u32, _>(layer);
        assert!(svc.poll_ready().is_ready());
        let running = svc.call(1);
        assert_eq!(b.metrics().in_flight, 1);
        drop(running);
        assert_eq!(b.metrics().in_flight, 0);
    }
}

#[tokio::test]
async fn dropping_a_queued_response_future_leaves_the_queue() {
    let b = bulkhead(1, 1);
    let (mut svc, _handle) = mock::spawn_layer::<u32, u32, _>(b.layer());
    assert!(svc.poll_ready().is_ready());
    let _running = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let mut queued = Box::pin(svc.call(2));
    assert!(futures::poll!(queued.as_mut()).is_pending());
    assert_eq!(b.metrics().queued, 1);
    drop(queued);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (1, 0));
}

#[tokio::test]
async fn backpressure_mode_reserves_the_slot_in_poll_ready() {
    let b = bulkhead(1, 1);
    let layer = b.layer().backpressure();
    assert!(layer.is_backpressure());
    let (mut svc1, mut handle) = mock::spawn_layer::<u32, u32, _>(layer);
    let mut svc2 = svc1.clone();
    assert!(svc1.poll_ready().is_ready());
    assert_eq!(b.metrics().in_flight, 1);
    // The reservation is per clone: the other clone waits in the queue.
    assert!(svc2.poll_ready().is_pending());
    assert_eq!(b.metrics().queued, 1);
    let first = svc1.call(1);
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response(10);
    assert_eq!(first.await.unwrap(), 10);
    assert!(svc2.is_woken());
    assert!(svc2.poll_ready().is_ready());
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (1, 0));
}

#[tokio::test]
async fn backpressure_mode_reservation_is_released_when_the_service_is_dropped() {
    let b = bulkhead(1, 0);
    let (mut svc, _handle) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    assert!(svc.poll_ready().is_ready());
    assert_eq!(b.metrics().in_flight, 1);
    drop(svc);
    assert_eq!(b.metrics().in_flight, 0);
}

#[tokio::test]
async fn backpressure_mode_wait_is_left_when_the_service_is_dropped() {
    let b = bulkhead(1, 1);
    let (mut holder, _h1) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    let (mut waiter, _h2) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    assert!(holder.poll_ready().is_ready());
    assert!(waiter.poll_ready().is_pending());
    assert_eq!(b.metrics().queued, 1);
    drop(waiter);
    assert_eq!(b.metrics().queued, 0);
    drop(holder);
    assert_eq!(b.metrics().in_flight, 0);
}

#[tokio::test]
async fn backpressure_mode_rejection_is_ready_then_fails_the_call() {
    let b = bulkhead(1, 0);
    let (mut holder, _h1) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    assert!(holder.poll_ready().is_ready());
    handle.allow(0);
    // Ready without consulting the inner service (which is not ready), never an error.
    assert!(matches!(svc.poll_ready(), Poll::Ready(Ok(()))));
    let err = svc.call(7).await.unwrap_err();
    assert!(as_full(err).is_queue_full());
    assert!(handle.poll_request().is_pending());
}

#[tokio::test(start_paused = true)]
async fn backpressure_mode_honours_max_wait() {
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    let (mut holder, _h1) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    let (mut svc, _h2) = mock::spawn_layer::<u32, u32, _>(b.layer().backpressure());
    assert!(holder.poll_ready().is_ready());
    assert!(svc.poll_ready().is_pending());
    tokio::time::advance(Duration::from_millis(50)).await;
    assert!(svc.is_woken());
    assert!(svc.poll_ready().is_ready());
    let err = svc.call(1).await.unwrap_err();
    assert!(as_full(err).is_timed_out());
    assert_eq!(b.metrics().rejected_timed_out, 1);
}

#[tokio::test(start_paused = true)]
async fn default_mode_waiter_is_turned_away_after_max_wait() {
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(b.layer());
    assert!(svc.poll_ready().is_ready());
    let _running = svc.call(1);
    assert!(svc.poll_ready().is_ready());
    let mut waiting = Box::pin(svc.call(2));
    assert!(futures::poll!(waiting.as_mut()).is_pending());
    tokio::time::advance(Duration::from_millis(50)).await;
    let err = waiting.await.unwrap_err();
    assert!(as_full(err).is_timed_out());
    let (req, _respond) = handle.next_request().await.unwrap();
    assert_eq!(req, 1);
    assert!(handle.poll_request().is_pending());
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued, m.rejected_timed_out), (1, 0, 1));
}

#[tokio::test]
async fn every_layer_call_and_clone_shares_the_handles_state() {
    let b = bulkhead(1, 0);
    let layer: BulkheadLayer = b.layer();
    let echo = service_fn(|n: u32| async move { Ok::<_, Infallible>(n) });
    let mut a = layer.layer(echo);
    let mut other = ServiceBuilder::new().bulkhead(&b).service(echo);
    let held = a.ready().await.unwrap().call(1);
    let err = other.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(err.is::<BulkheadFull>());
    let err = b
        .run(|| async { Ok::<_, Infallible>(()) })
        .await
        .unwrap_err();
    assert!(matches!(err, bulwark::Error::BulkheadFull(_)));
    assert_eq!(held.await.unwrap(), 1);
    assert_eq!(other.ready().await.unwrap().call(3).await.unwrap(), 3);
}

#[tokio::test]
async fn composes_with_towers_buffer_and_concurrency_limit() {
    let b = bulkhead(2, 8);
    let svc = ServiceBuilder::new()
        .buffer(16)
        .bulkhead(&b)
        .concurrency_limit(1)
        .service(service_fn(|n: u32| async move {
            tokio::task::yield_now().await;
            Ok::<_, BoxError>(n * 2)
        }));
    let calls = (0..10).map(|n| {
        let svc = svc.clone();
        tokio::spawn(svc.oneshot(n))
    });
    let mut out = Vec::new();
    for c in calls {
        out.push(c.await.unwrap().unwrap());
    }
    assert_eq!(out, (0..10).map(|n| n * 2).collect::<Vec<_>>());
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued, m.rejected_queue_full), (0, 0, 0));
}

#[derive(Clone, Copy)]
struct Echo;

impl Service<u32> for Echo {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, n: u32) -> Self::Future {
        ready(Ok(n))
    }
}

#[test]
fn uncontended_layer_allocates_nothing_in_either_mode() {
    for layer in [
        bulkhead(4, 4).layer(),
        bulkhead(4, 4).layer().backpressure(),
    ] {
        let mut svc = layer.layer(Echo);
        let per_call = support::allocations_per_call(16, 1000, || {
            let ready = svc.ready().now_or_never();
            assert!(matches!(ready, Some(Ok(_))));
            let out = svc.call(1).now_or_never();
            assert!(matches!(out, Some(Ok(1))));
        });
        assert_eq!(per_call, 0.0);
    }
}
