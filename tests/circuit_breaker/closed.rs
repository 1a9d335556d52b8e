//! The circuit breaker's windows and trip rules in the closed state, one test each, with paused
//! time.

use bulwark::Error;
use bulwark::circuit_breaker::{Builder, CircuitBreaker, DroppedCall, State};
use bulwark::classify::{DefaultClassifier, Verdict};
use futures::FutureExt;
use std::io;
use std::time::Duration;
use tokio::time::{advance, sleep};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn breaker(b: Builder) -> CircuitBreaker {
    b.build().expect("valid settings")
}

async fn succeed(b: &CircuitBreaker) -> Result<(), Error<io::Error>> {
    b.run(|| async { Ok(()) }).await
}

async fn fail(b: &CircuitBreaker) -> Result<(), Error<io::Error>> {
    b.run(|| async { Err(io::Error::other("down")) }).await
}

/// A breaker of window 4, minimum 4 calls, 50 %, open for 10 s, 2 probes.
fn small() -> Builder {
    CircuitBreaker::builder()
        .count_window(4)
        .minimum_calls(4)
        .failure_rate_threshold(0.5)
        .open_duration(secs(10))
        .permitted_calls_in_half_open(2)
}

#[tokio::test(start_paused = true)]
async fn failure_rate_at_threshold_opens_the_circuit() {
    let b = breaker(small());
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed, "3 calls: below the minimum");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "2 of 4 failed: 50 %");
}

#[tokio::test(start_paused = true)]
async fn failure_rate_below_threshold_keeps_the_circuit_closed() {
    let b = breaker(small());
    for _ in 0..25 {
        succeed(&b).await.unwrap();
        succeed(&b).await.unwrap();
        succeed(&b).await.unwrap();
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().failures, 1);
    assert_eq!(b.metrics().calls, 4);
}

#[tokio::test(start_paused = true)]
async fn rate_rules_wait_for_minimum_calls() {
    let b = breaker(small().count_window(10).minimum_calls(5));
    for _ in 0..4 {
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::Closed, "4 failures, minimum 5");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn minimum_calls_above_count_window_size_is_the_window_size() {
    let b = breaker(small().count_window(3).minimum_calls(100));
    for _ in 0..3 {
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn count_window_holds_exactly_the_last_n_calls() {
    // A breaker that saw many successes still trips after enough failures among its last N.
    let b = breaker(small().count_window(10).minimum_calls(10));
    for _ in 0..100_000 {
        succeed(&b).await.unwrap();
    }
    for i in 0..4 {
        let _ = fail(&b).await;
        assert_eq!(b.metrics().failures, i + 1);
        assert_eq!(b.metrics().calls, 10);
    }
    assert_eq!(b.state(), State::Closed, "4 of the last 10 failed");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "5 of the last 10 failed");
}

#[tokio::test(start_paused = true)]
async fn count_window_forgets_failures_pushed_out_by_newer_calls() {
    let b = breaker(
        small()
            .count_window(4)
            .minimum_calls(4)
            .failure_rate_threshold(0.75),
    );
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    for _ in 0..4 {
        succeed(&b).await.unwrap();
    }
    assert_eq!(b.metrics().failures, 0);
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed, "2 of the last 4, not 4 of 8");
}

#[tokio::test(start_paused = true)]
async fn time_window_behaves_the_same_after_any_idle_period() {
    // A 10 ms window has 1 ms slices. Idle periods of 2^27 and 2^28 slices (1.6 and 3.1 days)
    // used to confuse bucket epochs (kept in 28 bits); a year and more must be no different.
    // 2^27 + 2 slices lands on the very bucket the old failures are in (2^27 + 2 is a multiple
    // of the 10 buckets).
    const SLICE: Duration = Duration::from_millis(1);
    let idles = [
        SLICE * (1 << 27),
        SLICE * ((1 << 27) + 2),
        SLICE * (1 << 28),
        SLICE * (1 << 28) + SLICE * 3,
        SLICE * (1 << 29),
        secs(366 * 24 * 3600),
        secs(5 * 366 * 24 * 3600),
    ];
    for idle in idles {
        let b = breaker(
            CircuitBreaker::builder()
                .time_window(Duration::from_millis(10))
                .minimum_calls(5)
                .failure_rate_threshold(0.5),
        );
        for _ in 0..4 {
            let _ = fail(&b).await;
        }
        assert_eq!(b.state(), State::Closed);
        advance(idle).await;
        let m = b.metrics();
        assert_eq!(
            (m.calls, m.failures),
            (0, 0),
            "old failures came back after {idle:?}"
        );
        let _ = fail(&b).await;
        let m = b.metrics();
        assert_eq!((m.calls, m.failures), (1, 1), "after {idle:?}");
        assert_eq!(
            b.state(),
            State::Closed,
            "one failure, below the minimum, after {idle:?}"
        );
        for _ in 0..4 {
            let _ = fail(&b).await;
        }
        assert_eq!(b.state(), State::Open, "5 of 5 after {idle:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn time_window_holds_the_calls_of_the_last_duration() {
    let b = breaker(
        small()
            .time_window(secs(10))
            .minimum_calls(4)
            .failure_rate_threshold(0.5),
    );
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    assert_eq!(b.metrics().calls, 3);
    advance(secs(11)).await;
    assert_eq!(b.metrics().calls, 0, "older than the window");
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed, "1 of 4 in the window");
    advance(secs(5)).await;
    let _ = fail(&b).await;
    assert_eq!(b.metrics().calls, 5);
    assert_eq!(b.state(), State::Closed, "2 of 5 in the window");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "3 of 6 in the window");
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_at_threshold_opens_the_circuit() {
    let b = breaker(
        small()
            .no_failure_rate_threshold()
            .slow_call_threshold(Duration::from_millis(100), 0.5),
    );
    let slow = || async {
        sleep(Duration::from_millis(150)).await;
        Ok::<_, io::Error>(())
    };
    b.run(slow).await.unwrap();
    b.run(slow).await.unwrap();
    succeed(&b).await.unwrap();
    assert_eq!(b.metrics().slow_calls, 2);
    assert_eq!(b.state(), State::Closed, "3 calls: below the minimum");
    succeed(&b).await.unwrap();
    assert_eq!(
        b.state(),
        State::Closed,
        "a success never opens the circuit"
    );
    b.run(slow).await.unwrap();
    assert_eq!(b.state(), State::Open, "3 of the last 4 were slow");
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_the_circuit_and_a_success_resets_the_run() {
    let b = breaker(
        small()
            .count_window(100)
            .minimum_calls(100)
            .consecutive_failures(3),
    );
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed);
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn dropped_call_in_closed_state_is_ignored_by_default() {
    let b = breaker(small());
    for _ in 0..10 {
        let call = Box::pin(b.run(std::future::pending::<Result<(), io::Error>>));
        drop(call.now_or_never());
    }
    assert_eq!(b.metrics().calls, 0);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_call_in_closed_state_counts_as_failure_when_configured() {
    let b = breaker(small().dropped_calls(DroppedCall::Failure));
    for _ in 0..4 {
        let call = Box::pin(b.run(std::future::pending::<Result<(), io::Error>>));
        drop(call.now_or_never());
    }
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_are_not_recorded() {
    let b = small()
        .classifier(|r: &Result<u16, io::Error>| match r {
            Ok(s) if *s >= 500 => Verdict::Failure,
            Ok(s) if *s >= 400 => Verdict::Ignored,
            Ok(_) => Verdict::Success,
            Err(_) => Verdict::Failure,
        })
        .build()
        .unwrap();
    for _ in 0..10 {
        b.run(|| async { Ok(404) }).await.unwrap();
    }
    assert_eq!(b.metrics().calls, 0);
    for _ in 0..4 {
        b.run(|| async { Ok(503) }).await.unwrap();
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn builder_rejects_invalid_settings_naming_the_field() {
    let cases: Vec<(Builder, &str)> = vec![
        (CircuitBreaker::builder().count_window(0), "count_window"),
        (
            CircuitBreaker::builder().count_window(40_000),
            "count_window",
        ),
        (
            CircuitBreaker::builder().time_window(Duration::from_millis(5)),
            "time_window",
        ),
        (CircuitBreaker::builder().minimum_calls(0), "minimum_calls"),
        (
            CircuitBreaker::builder().failure_rate_threshold(0.0),
            "failure_rate_threshold",
        ),
        (
            CircuitBreaker::builder().failure_rate_threshold(1.5),
            "failure_rate_threshold",
        ),
        (
            CircuitBreaker::builder().failure_rate_threshold(f64::NAN),
            "failure_rate_threshold",
        ),
        (
            CircuitBreaker::builder().slow_call_threshold(secs(1), 0.0),
            "slow_call_threshold",
        ),
        (
            CircuitBreaker::builder().consecutive_failures(0),
            "consecutive_failures",
        ),
        (
            CircuitBreaker::builder().permitted_calls_in_half_open(0),
            "permitted_calls_in_half_open",
        ),
        (
            CircuitBreaker::builder().permitted_calls_in_half_open(5_000),
            "permitted_calls_in_half_open",
        ),
        (
            CircuitBreaker::builder().open_duration(secs(u64::MAX)),
            "open_duration",
        ),
    ];
    for (builder, field) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err.field(), field);
        assert!(err.to_string().contains(field), "{err}");
    }
    let ok: CircuitBreaker<DefaultClassifier> = CircuitBreaker::builder().build().unwrap();
    assert_eq!(ok.state(), State::Closed);
}

#[test]
fn errors_display_in_lower_case_and_keep_the_inner_error() {
    let inner: Error<io::Error> = Error::Inner(io::Error::other("down"));
    assert_eq!(inner.to_string(), "down");
    assert!(!inner.is_rejection());
    assert_eq!(inner.into_inner().unwrap().to_string(), "down");
}

#[tokio::test(start_paused = true)]
async fn successes_into_a_window_of_successes_still_reach_listeners() {
    use bulwark::circuit_breaker::Event;
    use std::sync::{Arc, Mutex};
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&recorded);
    let b = breaker(small().on_event(move |e| {
        if let Event::Recorded { outcome, slow, .. } = e {
            seen.lock().unwrap().push((*outcome, *slow));
        }
    }));
    // The window is full of successes after four: the later ones write nothing to it.
    for _ in 0..10 {
        succeed(&b).await.unwrap();
    }
    let _ = fail(&b).await;
    let recorded = recorded.lock().unwrap().clone();
    let mut expected = vec![(Verdict::Success, false); 10];
    expected.push((Verdict::Failure, false));
    assert_eq!(recorded, expected);
    let m = b.metrics();
    assert_eq!((m.calls, m.failures), (4, 1));
}

#[tokio::test(start_paused = true)]
async fn a_success_after_a_failure_resets_the_run_in_a_window_of_one() {
    let b = breaker(
        CircuitBreaker::builder()
            .count_window(1)
            .no_failure_rate_threshold()
            .consecutive_failures(2),
    );
    for _ in 0..3 {
        succeed(&b).await.unwrap();
    }
    let _ = fail(&b).await;
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed, "the success ended the run");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_call_as_long_as_the_slow_threshold_is_not_slow() {
    let b = breaker(
        small()
            .no_failure_rate_threshold()
            .slow_call_threshold(Duration::from_millis(100), 0.5),
    );
    // `advance` moves the paused clock by exactly its duration (a sleep may round up).
    let lasting = |d| {
        move || async move {
            advance(d).await;
            Ok::<_, io::Error>(())
        }
    };
    b.run(lasting(Duration::from_millis(100))).await.unwrap();
    assert_eq!(b.metrics().slow_calls, 0, "exactly the threshold");
    b.run(lasting(Duration::from_nanos(100_000_001)))
        .await
        .unwrap();
    assert_eq!(b.metrics().slow_calls, 1, "past the threshold");
}
