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
    let pipeline = Pipeline::http::<(), io::Error>().unwrap().build().unwrap();
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
    let pipeline = Pipeline::http::<(), io::Error>().unwrap().build().unwrap();
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
    let pipeline = Pipeline::http::<(), io::Error>().unwrap().build().unwrap();
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
