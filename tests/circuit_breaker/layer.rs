//! The circuit breaker as a tower layer: the service contract.

use bulwark::ServiceBuilderExt;
use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, State};
use bulwark::classify::Verdict;
use futures::{FutureExt, poll};
use std::convert::Infallible;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::time::advance;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn breaker(probes: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .count_window(4)
        .minimum_calls(4)
        .open_duration(secs(10))
        .permitted_calls_in_half_open(probes)
        .build()
        .unwrap()
}

async fn trip(b: &CircuitBreaker) {
    for _ in 0..4 {
        let _ = b.run(|| async { Err::<(), _>("down") }).await;
    }
    assert_eq!(b.state(), State::Open);
}

fn echo() -> impl Service<bool, Response = &'static str, Error = BoxError, Future: Send> + Clone {
    service_fn(|fail: bool| async move {
        if fail {
            Err::<&'static str, BoxError>("boom".into())
        } else {
            Ok("ok")
        }
    })
}

#[tokio::test(start_paused = true)]
async fn open_circuit_is_ready_and_fails_without_polling_or_calling_the_inner_service() {
    let b = breaker(1);
    let (inner, mut handle) = mock::pair::<&str, &str>();
    handle.allow(0); // the inner service is never ready: polling it would return Pending
    let mut svc = b.layer().layer(inner);
    trip(&b).await;
    assert!(matches!(
        poll!(std::future::poll_fn(|cx| svc.poll_ready(cx))),
        Poll::Ready(Ok(()))
    ));
    let err = svc.call("req").await.unwrap_err();
    let open = err.downcast_ref::<CircuitOpen>().expect("a CircuitOpen");
    assert_eq!(open.retry_after(), secs(10));
    let next = pin!(handle.next_request());
    assert!(poll!(next).is_pending(), "the inner service saw nothing");
}

#[tokio::test(start_paused = true)]
async fn half_open_probe_slot_is_reserved_in_poll_ready_and_released_when_the_service_is_dropped() {
    let b = breaker(1);
    let mut first = b.layer().layer(echo());
    let mut second = first.clone();
    trip(&b).await;
    advance(secs(10)).await;
    first.ready().await.unwrap();
    assert_eq!(b.metrics().probes_in_flight, 1);
    second.ready().await.unwrap();
    let err = second.call(false).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<CircuitOpen>().unwrap().state(),
        State::HalfOpen
    );
    drop(first);
    assert_eq!(b.metrics().probes_in_flight, 0);
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "a released slot is not a success"
    );
    assert_eq!(
        second.ready().await.unwrap().call(false).await.unwrap(),
        "ok"
    );
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_probe_slot_is_released_when_the_response_future_is_dropped() {
    let b = breaker(1);
    let (inner, mut handle) = mock::pair::<&str, &str>();
    let mut svc = b.layer().layer(inner);
    trip(&b).await;
    advance(secs(10)).await;
    handle.allow(1);
    let fut = svc.ready().await.unwrap().call("probe");
    assert_eq!(b.metrics().probes_in_flight, 1);
    let (_req, _send) = handle.next_request().await.unwrap();
    drop(fut);
    assert_eq!(b.metrics().probes_in_flight, 0);
    assert_eq!(b.state(), State::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn every_service_of_a_layer_and_every_clone_share_one_breaker() {
    let b = breaker(1);
    let layer = b.layer();
    let mut a = layer.layer(echo());
    let mut c = layer.layer(echo()).clone();
    let mut d = ServiceBuilder::new().circuit_breaker(&b).service(echo());
    let _ = a.ready().await.unwrap().call(true).await;
    let _ = c.ready().await.unwrap().call(true).await;
    let _ = d.ready().await.unwrap().call(true).await;
    assert_eq!(b.metrics().failures, 3);
    let _ = a.clone().ready().await.unwrap().call(true).await;
    assert_eq!(b.state(), State::Open);
    let err = d.ready().await.unwrap().call(false).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
}

#[tokio::test(start_paused = true)]
async fn backpressure_mode_is_pending_until_the_circuit_half_opens() {
    let b = breaker(1);
    let mut svc = b.layer().backpressure().layer(echo());
    trip(&b).await;
    {
        let mut ready = pin!(svc.ready());
        assert!(poll!(ready.as_mut()).is_pending());
        advance(secs(9)).await;
        assert!(poll!(ready.as_mut()).is_pending());
        advance(secs(1)).await;
        assert!(matches!(poll!(ready.as_mut()), Poll::Ready(Ok(_))));
    }
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.metrics().rejected, 0, "waiting is not a rejection");
    assert_eq!(svc.call(false).await.unwrap(), "ok");
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn classifier_sees_the_inner_response() {
    let b = CircuitBreaker::builder()
        .count_window(2)
        .minimum_calls(2)
        .classifier(|r: &Result<u16, Infallible>| match r {
            Ok(503) => Verdict::Failure,
            _ => Verdict::Success,
        })
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .circuit_breaker(&b)
        .service(service_fn(|status: u16| async move {
            Ok::<_, Infallible>(status)
        }));
    assert_eq!(svc.ready().await.unwrap().call(503).await.unwrap(), 503);
    assert_eq!(svc.ready().await.unwrap().call(503).await.unwrap(), 503);
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn inner_errors_pass_through_boxed() {
    let b = breaker(1);
    let mut svc = b.layer().layer(echo());
    let err = svc.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(err.to_string(), "boom");
    assert!(!err.is::<CircuitOpen>());
}

#[tokio::test(start_paused = true)]
async fn composes_with_tower_concurrency_limit_and_buffer() {
    let b = breaker(1);
    let svc = ServiceBuilder::new()
        .buffer(8)
        .circuit_breaker(&b)
        .concurrency_limit(2)
        .service(echo());
    let mut handles = vec![];
    for i in 0..8 {
        let mut svc = svc.clone();
        handles.push(tokio::spawn(async move {
            svc.ready().await?.call(i % 2 == 0).await
        }));
    }
    for h in handles {
        let _ = h.await.unwrap();
    }
    assert_eq!(b.state(), State::Open);
    let mut svc = svc.clone();
    let err = svc.ready().await.unwrap().call(false).await.unwrap_err();
    assert!(err.is::<CircuitOpen>(), "{err}");
    assert!(svc.ready().now_or_never().is_some());
}

#[tokio::test(start_paused = true)]
async fn backpressure_mode_still_fails_fast_when_forced_open() {
    let b = breaker(1);
    let mut svc = b.layer().backpressure().layer(echo());
    b.force_open();
    let err = svc.ready().await.unwrap().call(false).await.unwrap_err();
    let open = err.downcast_ref::<CircuitOpen>().unwrap();
    assert_eq!(open.state(), State::ForcedOpen);
    assert_eq!(open.retry_after(), Duration::MAX);
    assert_eq!(b.metrics().rejected, 1);
}
