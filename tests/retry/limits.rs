//! The retry pattern's limits: the time limit for starting attempts (with a property test) and the
//! budget.
#![cfg(feature = "retry")]

use crate::common as retry_common;
use retry_common::{MS, fixed, recorder};

use bulwark::backoff::Backoff;
use bulwark::retry::{Event, GiveUpReason, Retry, RetryBudget};
use futures::FutureExt;
use proptest::prelude::*;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_time_limit_gives_up_at_once() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(5)
        .stop_retrying_after(Duration::from_secs(5))
        .retry_after(|_: &Result<(), &str>| Some(Duration::from_secs(10)))
        .on_event(on_event)
        .build()
        .unwrap();
    // Returns at its first poll: no sleep was entered.
    let out = retry.run(|_| async { Err("busy") }).now_or_never();
    assert_eq!(out, Some(Err("busy")));
    assert_eq!(
        events.lock().unwrap()[0],
        Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::TimeUp
        }
    );
}

#[tokio::test(start_paused = true)]
async fn no_sleep_is_entered_that_would_end_past_the_time_limit() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(100)
        .stop_retrying_after(35 * MS)
        .backoff(fixed(10 * MS))
        .on_event(on_event)
        .build()
        .unwrap();
    let out: Result<(), ()> = retry.run(|_| async { Err(()) }).await;
    assert!(out.is_err());
    // Attempts at 0, 10, 20 and 30 ms; a fifth would need a sleep ending at 40 ms.
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&Event::GaveUp {
            name: "retry".into(),
            attempts: 4,
            reason: GiveUpReason::TimeUp
        })
    );
}

#[tokio::test(start_paused = true)]
async fn stop_retrying_after_bounds_starting_attempts_not_the_attempt_in_flight() {
    // 1 s to start attempts, attempts of 400 ms that fail, no delay between them: attempts start
    // at 0, 400 and 800 ms; the third runs to its end at 1.2 s, and no fourth starts.
    let retry = Retry::builder()
        .max_attempts(10)
        .stop_retrying_after(Duration::from_secs(1))
        .backoff(fixed(Duration::ZERO))
        .no_budget()
        .build()
        .unwrap();
    let started = std::sync::Mutex::new(Vec::new());
    let start = Instant::now();
    let out: Result<(), &str> = retry
        .run(|attempt| {
            started.lock().unwrap().push(start.elapsed());
            assert_eq!(
                attempt.stop_retrying_at(),
                Some(start + Duration::from_secs(1))
            );
            async {
                tokio::time::sleep(400 * MS).await;
                Err("slow and failing")
            }
        })
        .await;
    assert_eq!(out, Err("slow and failing"));
    assert_eq!(
        *started.lock().unwrap(),
        [Duration::ZERO, 400 * MS, 800 * MS]
    );
    assert_eq!(
        start.elapsed(),
        1200 * MS,
        "the attempt in flight was not cut"
    );

    // Through the tower door, the same; a timeout outside the retry is what bounds the call.
    use bulwark::ServiceBuilderExt;
    use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};
    let slow = service_fn(|_: ()| async {
        tokio::time::sleep(400 * MS).await;
        Err::<(), BoxError>("slow and failing".into())
    });
    let start = Instant::now();
    let mut svc = ServiceBuilder::new().bulwark_retry(&retry).service(slow);
    let err = svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert_eq!(err.to_string(), "slow and failing");
    assert_eq!(start.elapsed(), 1200 * MS);
    #[cfg(feature = "timeout")]
    {
        let start = Instant::now();
        let mut svc = ServiceBuilder::new()
            .bulwark_timeout(Duration::from_secs(1))
            .bulwark_retry(&retry)
            .service(slow);
        let err = svc.ready().await.unwrap().call(()).await.unwrap_err();
        assert!(err.is::<bulwark::timeout::Elapsed>(), "{err}");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_returns_the_last_error_and_says_why() {
    let (events, on_event) = recorder();
    let budget = RetryBudget::builder()
        .ratio(0.0)
        .min_per_second(0)
        .build()
        .unwrap();
    let retry = Retry::builder()
        .budget(budget.clone())
        .on_event(on_event)
        .build()
        .unwrap();
    let mut calls = 0;
    let out: Result<(), &str> = retry
        .run(|_| {
            calls += 1;
            async { Err("down") }
        })
        .await;
    assert_eq!((out, calls), (Err("down"), 1));
    assert_eq!(
        events.lock().unwrap()[0],
        Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::Budget
        }
    );
    assert_eq!(budget.metrics().requests, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_sharing_a_budget_draw_from_one_pool() {
    // 50 % and no floor: two successful calls fund exactly one retry, whichever retry uses it.
    let budget = RetryBudget::builder()
        .ratio(0.5)
        .min_per_second(0)
        .build()
        .unwrap();
    let a = Retry::builder()
        .budget(budget.clone())
        .backoff(fixed(MS))
        .build()
        .unwrap();
    let b = Retry::builder()
        .budget(budget.clone())
        .backoff(fixed(MS))
        .build()
        .unwrap();
    assert_eq!(a.run(|_| async { Ok::<_, ()>(()) }).await, Ok(()));
    assert_eq!(b.clone().run(|_| async { Ok::<_, ()>(()) }).await, Ok(()));
    // Each failing call is itself a request: after these two the window has 4 requests, 2 retries.
    let mut calls = 0;
    let _ = a
        .run(|_| {
            calls += 1;
            async { Err::<(), _>(()) }
        })
        .await;
    let _ = b
        .run(|_| {
            calls += 1;
            async { Err::<(), _>(()) }
        })
        .await;
    assert_eq!(calls, 4);
    assert_eq!(budget.metrics().retries, 2);
    assert_eq!(budget.metrics().available, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the backoff, hints and attempt durations: no attempt starts at or after the
    /// time limit, and no sleep ends past it, so the call ends by the limit plus the duration of
    /// its last attempt.
    #[test]
    fn no_attempt_starts_after_the_time_limit(
        // `stop_retrying_after`, in milliseconds.
        deadline_ms in 1u64..500,
        base_ms in 0u64..100,
        seed in any::<u64>(),
        attempt_ms in prop::collection::vec(0u64..50, 64),
        hint_ms in prop::collection::vec(prop::option::of(0u64..200), 64),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let deadline = Duration::from_millis(deadline_ms);
            let retry = Retry::builder()
                .max_attempts(64)
                .stop_retrying_after(deadline)
                .backoff(
                    Backoff::exponential(Duration::from_millis(base_ms))
                        .max_delay(Duration::from_secs(1))
                        .seed(seed)
                        .build()
                        .unwrap(),
                )
                .retry_after(|outcome: &Result<(), usize>| {
                    outcome.err().and_then(|n| hint_ms[n]).map(Duration::from_millis)
                })
                .no_budget()
                .build()
                .unwrap();
            let deadline = Instant::now() + deadline;
            let mut starts = Vec::new();
            let out = retry
                .run(|a| {
                    let n = (a.number() - 1) as usize;
                    starts.push(Instant::now());
                    let took = Duration::from_millis(attempt_ms[n]);
                    async move {
                        tokio::time::sleep(took).await;
                        Err(n)
                    }
                })
                .await;
            let last = out.unwrap_err();
            for s in &starts {
                prop_assert!(*s < deadline, "an attempt started at or after the time limit");
            }
            prop_assert!(Instant::now() <= deadline + Duration::from_millis(attempt_ms[last]));
            Ok(())
        })?;
    }
}
