//! A fallback in the pipeline: applied last, outside the retries and the total timeout, through
//! both doors; and a pipeline pays nothing for it in size or allocations.

use crate::support;
use bulwark::Error;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::classify::Verdict;
use bulwark::fallback::{Fallback, Reason};
use bulwark::pipeline::Pipeline;
use bulwark::retry::Retry;
use futures::FutureExt;
use std::io;
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

fn no_sleep_retry(n: u32) -> Retry {
    Retry::builder()
        .max_attempts(n)
        .backoff(
            bulwark::backoff::Backoff::constant(Duration::from_millis(1))
                .jitter(bulwark::backoff::Jitter::None)
                .build()
                .unwrap(),
        )
        .no_budget()
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_fallback_sees_the_outcome_after_every_retry() {
    let pipeline = Pipeline::builder()
        .retry(no_sleep_retry(3))
        .fallback(
            Fallback::builder(|_: Reason| "fallback")
                .on_failure(|r: &Result<&str, io::Error>| {
                    if r.is_err() {
                        Verdict::Failure
                    } else {
                        Verdict::Success
                    }
                })
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut attempts = 0;
    let out = pipeline
        .run(|| {
            attempts += 1;
            let n = attempts;
            async move {
                if n < 3 {
                    Err(io::Error::other("flaky"))
                } else {
                    Err(io::Error::other("down"))
                }
            }
        })
        .await;
    assert_eq!(out.unwrap(), "fallback");
    assert_eq!(attempts, 3, "the retries ran first");

    // A call that succeeds on a retry is not replaced.
    let mut attempts = 0;
    let out = pipeline
        .run(|| {
            attempts += 1;
            let ok = attempts == 2;
            async move {
                if ok {
                    Ok("live")
                } else {
                    Err(io::Error::other("flaky"))
                }
            }
        })
        .await;
    assert_eq!(out.unwrap(), "live");
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_and_an_open_circuit_are_replaced_when_chosen() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_millis(100))
        .circuit_breaker(breaker.clone())
        .fallback(
            Fallback::builder(|r: Reason| r.as_str())
                .on(Reason::Timeout)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let slow = pipeline
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, io::Error>("live")
        })
        .await;
    assert_eq!(slow.unwrap(), "timeout");
    // The open circuit was not chosen: it passes through.
    breaker.force_open();
    let rejected = pipeline.run(|| async { Ok::<_, io::Error>("live") }).await;
    assert!(matches!(rejected, Err(Error::CircuitOpen(_))));
}

#[tokio::test(start_paused = true)]
async fn the_fused_layer_replaces_the_chosen_rejections_too() {
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_millis(100))
        .fallback(
            Fallback::builder(|_: Reason| "fallback".to_owned())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut svc = pipeline.layer().layer(service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, BoxError>("live".to_owned())
    }));
    assert_eq!(
        svc.ready().await.unwrap().call(1).await.unwrap(),
        "fallback"
    );
}

#[test]
fn a_fallback_adds_nothing_to_the_futures_size_and_allocates_nothing() {
    let plain = Pipeline::builder()
        .retry(no_sleep_retry(2))
        .build()
        .unwrap();
    let with = Pipeline::builder()
        .retry(no_sleep_retry(2))
        .fallback(Fallback::builder(|_: Reason| 0u32).build().unwrap())
        .build()
        .unwrap();
    let echo = service_fn(|n: u32| async move { Ok::<_, io::Error>(n) });
    let a = plain.layer().layer(echo).call(1);
    let b = with.layer().layer(echo).call(1);
    assert_eq!(size_of_val(&a), size_of_val(&b));
    let a = plain.run(|| async { Ok::<u32, io::Error>(1) });
    let b = with.run(|| async { Ok::<u32, io::Error>(1) });
    assert_eq!(size_of_val(&a), size_of_val(&b));
    drop((a, b));

    let per_call = support::allocations_per_call(10, 1_000, || {
        let out = with
            .run(|| async { Ok::<u32, io::Error>(7) })
            .now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(7)));
    });
    assert_eq!(per_call, 0.0);
}
