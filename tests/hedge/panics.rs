//! A panicking closure or attempt never hangs the other attempts.

use crate::ms;
use bulwark::hedge::Hedge;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::time::{Instant, sleep};

fn hedge(max: u32) -> Hedge {
    Hedge::builder()
        .delay(ms(10))
        .max_hedged_attempts(max)
        .no_budget()
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_closure_that_panics_for_a_hedge_leaves_the_first_attempt_running() {
    let h = hedge(2);
    let mut attempt = 0;
    let start = Instant::now();
    let out = h
        .run(|| {
            attempt += 1;
            assert!(attempt != 2, "the closure panicked making attempt 2");
            let wait = if attempt == 1 { ms(50) } else { ms(1) };
            async move {
                sleep(wait).await;
                Ok::<_, ()>(attempt)
            }
        })
        .await;
    // Attempt 2 panicked at 10 ms; attempt 3 was sent at 20 ms and answered at 21 ms.
    assert_eq!(out, Ok(3));
    assert_eq!(start.elapsed(), ms(21));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_panics_while_a_hedge_is_in_flight_leaves_the_hedge_to_answer() {
    let h = hedge(1);
    let mut attempt = 0;
    let out = h
        .run(|| {
            attempt += 1;
            let first = attempt == 1;
            async move {
                if first {
                    sleep(ms(20)).await;
                    panic!("the first attempt panicked");
                }
                sleep(ms(30)).await;
                Ok::<_, ()>("hedge")
            }
        })
        .await;
    assert_eq!(out, Ok("hedge"));
}

#[tokio::test(start_paused = true)]
async fn an_error_is_returned_rather_than_a_panic_when_both_happened() {
    let h = hedge(1);
    let mut attempt = 0;
    let out = h
        .run(|| {
            attempt += 1;
            let first = attempt == 1;
            async move {
                sleep(ms(15)).await;
                if first {
                    panic!("the first attempt panicked");
                }
                Err::<(), _>("the hedge failed")
            }
        })
        .await;
    assert_eq!(out, Err("the hedge failed"));
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_panics_the_panic_reaches_the_caller() {
    let h = hedge(1);
    let call = h.run(|| async {
        sleep(ms(15)).await;
        panic!("every attempt panics");
        #[allow(unreachable_code)]
        Ok::<(), ()>(())
    });
    let caught = AssertUnwindSafe(call).catch_unwind().await;
    let panic = caught.unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"every attempt panics"));
}

#[tokio::test(start_paused = true)]
async fn a_panic_making_the_first_attempt_reaches_the_caller_at_once() {
    let h = hedge(1);
    let call = h.run(|| -> std::future::Ready<Result<(), ()>> { panic!("no first attempt") });
    let caught = AssertUnwindSafe(call).catch_unwind().await;
    assert!(caught.is_err());
    assert_eq!(h.metrics().hedges, 0);
    let _ = Duration::ZERO;
}
