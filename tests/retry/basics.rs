//! The retry pattern, standalone door: attempts, predicate, hints, events, settings.
#![cfg(feature = "retry")]

use crate::common as retry_common;
use retry_common::{MS, fixed, recorder};

use bulwark::backoff::MakeDelays;
use bulwark::retry::{Attempt, Event, GiveUpReason, Retry, RetryReason};
use bulwark::retry::{RetryAfter, ShouldRetry};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn retries_errors_until_success_and_tells_the_closure_the_attempt_number() {
    let retry = Retry::builder()
        .max_attempts(5)
        .backoff(fixed(10 * MS))
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let out = retry
        .run(|attempt: Attempt| {
            seen.push((attempt.number(), attempt.is_retry()));
            async move {
                if attempt.number() < 3 {
                    Err("flaky")
                } else {
                    Ok(attempt.number())
                }
            }
        })
        .await;
    assert_eq!(out, Ok(3));
    assert_eq!(seen, [(1, false), (2, true), (3, true)]);
}

/// Lets spawned tasks run without letting paused time move.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Spawns a call that fails every attempt with `error`, and returns its attempt counter.
fn spawn_failing<B, P, H, E>(retry: Retry<B, P, H>, error: E) -> Arc<AtomicU32>
where
    B: MakeDelays<Delays: Send> + Send + Sync + 'static,
    P: ShouldRetry<(), E> + Send + Sync + 'static,
    H: RetryAfter<(), E> + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    tokio::spawn(async move {
        retry
            .run(|_| {
                counter.fetch_add(1, Ordering::SeqCst);
                let error = error.clone();
                async move { Err::<(), E>(error) }
            })
            .await
    });
    attempts
}

#[tokio::test(start_paused = true)]
async fn sleeps_the_backoff_delay_between_attempts() {
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(10 * MS))
        .build()
        .unwrap();
    let attempts = spawn_failing(retry, "down");
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    tokio::time::advance(9 * MS).await;
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    tokio::time::advance(MS).await;
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(MS))
        .on_event(on_event)
        .build()
        .unwrap();
    let out: Result<(), u32> = retry.run(|a| async move { Err(a.number()) }).await;
    assert_eq!(out, Err(3));
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        Event::Retrying {
            name: "retry".into(),
            attempt: 1,
            delay: MS,
            reason: RetryReason::Error,
            hinted: false
        }
    );
    assert_eq!(
        events[2],
        Event::GaveUp {
            name: "retry".into(),
            attempts: 3,
            reason: GiveUpReason::Attempts
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_predicate_retries_a_503_response_and_never_a_400() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(MS))
        .retry_if(|outcome: &Result<u16, &str>| matches!(outcome, Ok(503) | Err("reset")))
        .on_event(on_event)
        .build()
        .unwrap();

    let mut statuses = [503, 200].into_iter();
    let out = retry
        .run(|_| {
            let status = statuses.next().unwrap_or(500);
            async move { Ok::<_, &str>(status) }
        })
        .await;
    assert_eq!(out, Ok(200));

    let mut calls = 0;
    let out = retry
        .run(|_| {
            calls += 1;
            async { Err::<u16, _>("bad request") }
        })
        .await;
    assert_eq!((out, calls), (Err("bad request"), 1));

    let events = events.lock().unwrap();
    assert!(matches!(
        events[0],
        Event::Retrying {
            reason: RetryReason::Response,
            ..
        }
    ));
    assert_eq!(
        events[1],
        Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::NotRetryable
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_replaces_the_backoff() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(2)
        .backoff(fixed(MS))
        .retry_after(|outcome: &Result<(), Duration>| outcome.err())
        .on_event(on_event)
        .build()
        .unwrap();
    let attempts = spawn_failing(retry, Duration::from_secs(7));
    settle().await;
    tokio::time::advance(Duration::from_secs(7) - MS).await;
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    tokio::time::advance(MS).await;
    settle().await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert!(matches!(
        events.lock().unwrap()[0],
        Event::Retrying { hinted: true, delay, .. } if delay == Duration::from_secs(7)
    ));
}

#[test]
fn build_rejects_invalid_settings_naming_the_field() {
    let err = Retry::builder().max_attempts(0).build().unwrap_err();
    assert_eq!(err.field(), "max_attempts");
    assert_eq!(
        err.to_string(),
        "invalid retry setting `max_attempts`: must be at least 1"
    );
    let err = Retry::builder()
        .stop_retrying_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "stop_retrying_after");
}

#[tokio::test(start_paused = true)]
async fn a_finite_custom_backoff_ends_the_retries() {
    let retry = Retry::builder()
        .max_attempts(10)
        .backoff(|| [MS, 2 * MS])
        .no_budget()
        .build()
        .unwrap();
    let mut calls = 0;
    let _: Result<(), ()> = retry
        .run(|_| {
            calls += 1;
            async { Err(()) }
        })
        .await;
    assert_eq!(calls, 3);
}

#[tokio::test(start_paused = true)]
async fn a_zero_hint_retries_at_once_no_hint_uses_the_backoff_and_a_max_hint_gives_up() {
    let (events, on_event) = recorder();
    let retry = Retry::builder()
        .max_attempts(2)
        .backoff(fixed(5 * MS))
        .retry_after(|outcome: &Result<(), Option<Duration>>| outcome.err().flatten())
        .on_event(on_event)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let _ = retry.run(|_| async { Err(Some(Duration::ZERO)) }).await;
    assert_eq!(start.elapsed(), Duration::ZERO, "retried now");
    let _ = retry.run(|_| async { Err(None) }).await;
    assert_eq!(start.elapsed(), 5 * MS, "no hint: the backoff");
    let _ = retry.run(|_| async { Err(Some(Duration::MAX)) }).await;
    let events = events.lock().unwrap();
    let retrying = |delay, hinted| Event::Retrying {
        name: "retry".into(),
        attempt: 1,
        delay,
        reason: RetryReason::Error,
        hinted,
    };
    assert_eq!(events[0], retrying(Duration::ZERO, true));
    assert_eq!(events[2], retrying(5 * MS, false));
    assert_eq!(
        events[4],
        Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::NotRetryable
        }
    );
}

#[tokio::test(start_paused = true)]
async fn retries_without_delay_yield_to_the_scheduler() {
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(|| std::iter::repeat(Duration::ZERO))
        .no_budget()
        .build()
        .unwrap();
    let mut run = std::pin::pin!(retry.run(|_| async { Err::<(), _>("down") }));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    // One attempt per poll: the first two polls end in a retry, the third returns the error.
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        run.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err("down"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_shared_classifier_decides_what_is_retried() {
    use bulwark::classify::Verdict;
    let by_status = |out: &Result<u16, &str>| match out {
        Ok(code) if *code >= 500 => Verdict::Failure,
        Ok(code) if *code >= 400 => Verdict::Ignored,
        Ok(_) => Verdict::Success,
        Err(_) => Verdict::Failure,
    };
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(MS))
        .retry_failures(by_status)
        .build()
        .unwrap();
    let mut statuses = [503, 404, 200].into_iter();
    let mut calls = 0;
    let out = retry
        .run(|_| {
            calls += 1;
            let status = statuses.next().unwrap_or(200);
            async move { Ok::<_, &str>(status) }
        })
        .await;
    // 503 is retried; 404 is ignored by the classifier, so it is final.
    assert_eq!((out, calls), (Ok(404), 2));
}

/// A closure is a hint: its answer is the delay, and it sees no open circuit.
#[test]
fn a_closure_hint_gives_its_delay_and_no_open_circuit() {
    let hint = |r: &Result<u32, &str>| r.is_err().then_some(Duration::from_secs(2));
    assert_eq!(
        RetryAfter::retry_after(&hint, &Err("busy")),
        Some(Duration::from_secs(2))
    );
    assert_eq!(RetryAfter::retry_after(&hint, &Ok(1)), None);
    assert_eq!(RetryAfter::open_circuit(&hint, &Err("busy")), None);
}

#[test]
fn a_budget_shows_its_ratio_and_window_and_takes_the_shortest_window() {
    use bulwark::retry::RetryBudget;
    let budget = RetryBudget::builder()
        .ratio(0.25)
        .window(Duration::from_millis(10))
        .build()
        .expect("10 ms is the shortest window allowed");
    let debug = format!("{budget:?}");
    assert!(
        debug.starts_with("RetryBudget {")
            && debug.contains("ratio: 0.25")
            && debug.contains("window: 10ms"),
        "{debug}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_dropped_while_it_waits_releases_the_outcome_it_kept() {
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(1000 * MS))
        .build()
        .unwrap();
    let error = Arc::new("refused");
    let call = retry.run(|_| {
        let error = Arc::clone(&error);
        async move { Err::<(), _>(error) }
    });
    let mut call = Box::pin(call);
    // The first attempt fails: its error is kept while the retry sleeps before the second.
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(Arc::strong_count(&error), 2);
    drop(call);
    assert_eq!(Arc::strong_count(&error), 1, "the kept error was leaked");
}
