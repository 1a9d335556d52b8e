//! The tower door: the rejections of the layers below, found in their `BoxError`s.

use bulwark::ServiceBuilderExt;
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::classify::Verdict;
use bulwark::fallback::{Fallback, Reason};
use bulwark::rate_limit::RateLimiter;
use std::time::Duration;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

type Answer = Result<String, BoxError>;

async fn slow(_: u32) -> Answer {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok("live".into())
}

#[tokio::test(start_paused = true)]
async fn a_timeout_below_is_replaced_when_chosen_and_passes_through_when_not() {
    for (chosen, replaced) in [(Reason::Timeout, true), (Reason::CircuitOpen, false)] {
        let fallback = Fallback::builder(|r: Reason| r.as_str().to_owned())
            .on(chosen)
            .build()
            .unwrap();
        let mut svc = ServiceBuilder::new()
            .layer(fallback.layer())
            .bulwark_timeout(Duration::from_millis(100))
            .service(service_fn(slow));
        let out = svc.ready().await.unwrap().call(1).await;
        if replaced {
            assert_eq!(out.unwrap(), "timeout");
        } else {
            assert!(out.unwrap_err().is::<bulwark::timeout::Elapsed>());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_below_is_replaced() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    breaker.force_open();
    let fallback = Fallback::builder(|r: Reason| r.as_str().to_owned())
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(fallback.layer())
        .circuit_breaker(&breaker)
        .service(service_fn(slow));
    assert_eq!(
        svc.ready().await.unwrap().call(1).await.unwrap(),
        "circuit_open"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_below_is_replaced() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(0)
        .build()
        .unwrap();
    let fallback = Fallback::builder(|r: Reason| r.as_str().to_owned())
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(fallback.layer())
        .bulkhead(&bulkhead)
        .service(service_fn(slow));
    let mut held = Box::pin(svc.ready().await.unwrap().call(1));
    assert!(futures::poll!(held.as_mut()).is_pending());
    assert_eq!(
        svc.ready().await.unwrap().call(2).await.unwrap(),
        "bulkhead_full"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_below_is_replaced() {
    let limiter = RateLimiter::builder()
        .rate(1, Duration::from_secs(60))
        .build()
        .unwrap();
    let fallback = Fallback::builder(|r: Reason| r.as_str().to_owned())
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(fallback.layer())
        .bulwark_rate_limit(&limiter)
        .service(service_fn(|_: u32| async {
            Ok::<_, BoxError>("live".to_owned())
        }));
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), "live");
    assert_eq!(
        svc.ready().await.unwrap().call(2).await.unwrap(),
        "rate_limited"
    );
}

#[tokio::test(start_paused = true)]
async fn the_inner_services_failures_are_replaced_as_the_classifier_says() {
    let fallback = Fallback::builder(|_: Reason| "fallback".to_owned())
        .on_failure(|r: &Answer| match r {
            Err(e) if e.to_string() == "503" => Verdict::Failure,
            _ => Verdict::Success,
        })
        .build()
        .unwrap();
    let mut svc = fallback.layer().layer(service_fn(|code: u32| async move {
        match code {
            200 => Ok("live".to_owned()),
            other => Err::<String, BoxError>(other.to_string().into()),
        }
    }));
    use tower::Layer;
    assert_eq!(
        svc.ready().await.unwrap().call(503).await.unwrap(),
        "fallback"
    );
    assert_eq!(svc.ready().await.unwrap().call(200).await.unwrap(), "live");
    let not_replaced = svc.ready().await.unwrap().call(404).await.unwrap_err();
    assert_eq!(not_replaced.to_string(), "404");
    assert_eq!(fallback.metrics().used_for(Reason::Classified), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fallback_returns_the_boxed_rejection() {
    let fallback = Fallback::builder(|_: Reason| -> String { panic!("no cache") })
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(fallback.layer())
        .bulwark_timeout(Duration::from_millis(100))
        .service(service_fn(slow));
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(err.is::<bulwark::timeout::Elapsed>());
    assert_eq!(fallback.metrics().panics, 1);
}

/// A service whose readiness fails.
#[derive(Clone, Debug)]
struct Broken;

impl Service<u32> for Broken {
    type Response = String;
    type Error = BoxError;
    type Future = std::future::Ready<Answer>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Err("connection pool closed".into()))
    }

    fn call(&mut self, _: u32) -> Self::Future {
        std::future::ready(Ok("live".into()))
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_from_poll_ready_is_never_replaced() {
    use tower::Layer;
    // A classifier that would replace every error of a call.
    let fallback = Fallback::builder(|_: Reason| "fallback".to_owned())
        .on_failure(|r: &Answer| {
            if r.is_err() {
                Verdict::Failure
            } else {
                Verdict::Success
            }
        })
        .build()
        .unwrap();
    let mut svc = fallback.layer().layer(Broken);
    let err = svc.ready().await.unwrap_err();
    assert_eq!(err.to_string(), "connection pool closed");
    assert_eq!(fallback.metrics().used_total(), 0);
}
