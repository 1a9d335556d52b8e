//! The HTTP preset of the pipeline: status codes and Retry-After.
#![cfg(feature = "http")]

use bulwark::Error;
use bulwark::pipeline::Pipeline;
use bulwark::pipeline::{is_transient, retry_after};
use http::{Response, StatusCode};
use std::cell::Cell;
use std::io;
use std::time::Duration;
use tokio::time::Instant;

fn status(code: u16, retry_after_secs: Option<u64>) -> Response<()> {
    let mut b = Response::builder().status(code);
    if let Some(s) = retry_after_secs {
        b = b.header("retry-after", s.to_string());
    }
    b.body(()).unwrap()
}

#[test]
fn transient_statuses_and_the_retry_after_header() {
    for code in [408, 429, 500, 502, 503, 504] {
        assert!(is_transient(StatusCode::from_u16(code).unwrap()), "{code}");
    }
    for code in [200, 400, 404, 501] {
        assert!(!is_transient(StatusCode::from_u16(code).unwrap()), "{code}");
    }
    assert_eq!(
        retry_after(&status(503, Some(7))),
        Some(Duration::from_secs(7))
    );
    assert_eq!(retry_after(&status(503, None)), None);
}

#[tokio::test(start_paused = true)]
async fn a_503_is_retried_after_the_delay_its_retry_after_asks_for() {
    let pipeline = Pipeline::http().unwrap().build().unwrap();
    let calls = Cell::new(0);
    let start = Instant::now();
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            async move {
                Ok::<_, io::Error>(if first {
                    status(503, Some(7))
                } else {
                    status(200, None)
                })
            }
        })
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(calls.get(), 2);
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn a_4xx_is_final_and_counts_as_a_healthy_answer() {
    let pipeline = Pipeline::http().unwrap().build().unwrap();
    let calls = Cell::new(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            async { Ok::<_, io::Error>(status(404, None)) }
        })
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NOT_FOUND);
    assert_eq!(calls.get(), 1);
    let m = pipeline.circuit_breaker().unwrap().metrics();
    assert_eq!((m.calls, m.failures), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_retried_three_times_then_returned() {
    let pipeline = Pipeline::http().unwrap().build().unwrap();
    let calls = Cell::new(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            async { Err::<Response<()>, _>(io::Error::other("connection refused")) }
        })
        .await;
    assert!(matches!(out, Err(Error::Inner(ref e)) if e.to_string() == "connection refused"));
    assert_eq!(calls.get(), 3);
}

#[test]
fn the_retry_after_header_in_its_http_date_form() {
    let in_a_minute = std::time::SystemTime::now() + Duration::from_secs(60);
    let response = Response::builder()
        .status(503)
        .header("retry-after", httpdate::fmt_http_date(in_a_minute))
        .body(())
        .unwrap();
    let delay = retry_after(&response).unwrap();
    // The date has whole seconds: up to one second less than asked, never more.
    assert!(
        delay > Duration::from_secs(58) && delay <= Duration::from_secs(60),
        "{delay:?}"
    );
    let past = Response::builder()
        .status(503)
        .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
        .body(())
        .unwrap();
    assert_eq!(retry_after(&past), Some(Duration::ZERO));
    let garbage = Response::builder()
        .status(503)
        .header("retry-after", "soon")
        .body(())
        .unwrap();
    assert_eq!(retry_after(&garbage), None);
}

/// An HTTP service answering with `statuses` in turn (then 200), counting its calls.
fn http_service(
    statuses: Vec<(u16, Option<u64>)>,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> impl tower::Service<&'static str, Response = Response<()>, Error = io::Error, Future: Send> + Clone
{
    tower::service_fn(move |_: &'static str| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (code, after) = statuses.get(n).copied().unwrap_or((200, None));
        async move { Ok(status(code, after)) }
    })
}

#[tokio::test(start_paused = true)]
async fn as_a_tower_layer_statuses_and_retry_after_drive_the_retries() {
    use tower::{Layer, ServiceExt};
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pipeline = Pipeline::http().unwrap().build().unwrap();
    let svc = pipeline.layer().layer(http_service(
        vec![(503, Some(4)), (429, Some(1))],
        calls.clone(),
    ));
    let start = Instant::now();
    let out = svc.oneshot("/stock").await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(5), "4 s, then 1 s");
    // A 404 is an answer: returned at once, and a success for the breaker.
    let svc = pipeline
        .layer()
        .layer(http_service(vec![(404, None)], Default::default()));
    assert_eq!(
        svc.oneshot("/missing").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn tuning_the_retry_keeps_the_status_code_policy() {
    let pipeline = Pipeline::http()
        .unwrap()
        .tune_retry(|retry| {
            retry.max_attempts(5).backoff(
                bulwark::backoff::Backoff::constant(Duration::from_millis(10))
                    .build()
                    .unwrap(),
            )
        })
        .unwrap()
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            async { Ok::<_, io::Error>(status(503, None)) }
        })
        .await
        .unwrap();
    // Five attempts of a transient status, the last returned as it is.
    assert_eq!(out.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.get(), 5);
    // A 400 is not retried, whatever the attempts.
    calls.set(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            async { Ok::<_, io::Error>(status(400, None)) }
        })
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::BAD_REQUEST);
    assert_eq!(calls.get(), 1);
    // Nothing to tune without a retry; invalid settings are refused.
    let err = Pipeline::builder().tune_retry(|r| r).unwrap_err();
    assert!(err.to_string().contains("no retry to tune"), "{err}");
    let err = Pipeline::http()
        .unwrap()
        .tune_retry(|r| r.max_attempts(0))
        .unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
}
