//! The circuit breaker's open, half-open and manual states, its events and its watch, with
//! paused time.

use bulwark::Error;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::circuit_breaker::{Builder, CircuitBreaker, CircuitOpen, Event, OpenReason, State};
use bulwark::classify::Verdict;
use futures::FutureExt;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};
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

fn rejected<T: std::fmt::Debug>(r: Result<T, Error<io::Error>>) -> CircuitOpen {
    match r {
        Err(Error::CircuitOpen(open)) => open,
        other => panic!("expected a rejection, got {other:?}"),
    }
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

async fn trip(b: &CircuitBreaker) {
    for _ in 0..8 {
        if b.state() == State::Open {
            return;
        }
        let _ = fail(b).await;
    }
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn open_circuit_rejects_without_invoking_the_closure() {
    let b = breaker(small());
    trip(&b).await;
    let mut invoked = false;
    let r = b
        .run(|| {
            invoked = true;
            async { Ok::<_, io::Error>(()) }
        })
        .await;
    let open = rejected(r);
    assert!(!invoked);
    assert_eq!(open.state(), State::Open);
    assert_eq!(b.metrics().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn rejection_carries_the_time_until_the_circuit_may_admit() {
    let b = breaker(small());
    trip(&b).await;
    assert_eq!(rejected(succeed(&b).await).retry_after(), secs(10));
    advance(secs(4)).await;
    assert_eq!(rejected(succeed(&b).await).retry_after(), secs(6));
    assert_eq!(
        rejected(succeed(&b).await).to_string(),
        "circuit breaker is open, retry after 6s"
    );
}

#[tokio::test(start_paused = true)]
async fn open_circuit_half_opens_after_the_open_duration() {
    let b = breaker(small());
    trip(&b).await;
    advance(secs(10) - Duration::from_millis(1)).await;
    rejected(succeed(&b).await);
    assert_eq!(b.state(), State::Open);
    advance(Duration::from_millis(1)).await;
    let mut probe = pin!(b.run(|| async {
        sleep(secs(1)).await;
        Ok::<_, io::Error>(())
    }));
    assert!((&mut probe).now_or_never().is_none());
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.metrics().probes_in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_the_permitted_probes_succeed() {
    let b = breaker(small());
    trip(&b).await;
    advance(secs(10)).await;
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().calls, 0, "closing starts an empty window");
}

#[tokio::test(start_paused = true)]
async fn half_open_reopens_when_failed_probes_reach_the_threshold() {
    let b = breaker(small().permitted_calls_in_half_open(4));
    trip(&b).await;
    advance(secs(10)).await;
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::HalfOpen, "1 of 4 permitted failed");
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "2 of 4 permitted failed: 50 %");
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_at_most_the_permitted_probes_at_once() {
    let b = breaker(small().permitted_calls_in_half_open(2));
    trip(&b).await;
    advance(secs(10)).await;
    let slow = || async {
        sleep(secs(1)).await;
        Ok::<_, io::Error>(())
    };
    let mut p1 = pin!(b.run(slow));
    let mut p2 = pin!(b.run(slow));
    assert!((&mut p1).now_or_never().is_none());
    assert!((&mut p2).now_or_never().is_none());
    let third = rejected(succeed(&b).await);
    assert_eq!(third.state(), State::HalfOpen);
    assert_eq!(third.retry_after(), Duration::ZERO);
    advance(secs(1)).await;
    p1.await.unwrap();
    p2.await.unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_releases_its_slot_without_counting() {
    let b = breaker(small().permitted_calls_in_half_open(1));
    trip(&b).await;
    advance(secs(10)).await;
    for _ in 0..3 {
        let mut probe = Box::pin(b.run(|| async {
            sleep(secs(1)).await;
            Ok::<_, io::Error>(())
        }));
        assert!((&mut probe).now_or_never().is_none());
        assert_eq!(b.metrics().probes_in_flight, 1);
        drop(probe);
        assert_eq!(b.metrics().probes_in_flight, 0);
        assert_eq!(
            b.state(),
            State::HalfOpen,
            "a dropped probe is not a success"
        );
    }
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn max_wait_in_half_open_reopens_a_breaker_whose_probes_never_finish() {
    let b = breaker(
        small()
            .permitted_calls_in_half_open(1)
            .max_wait_in_half_open(secs(30)),
    );
    trip(&b).await;
    advance(secs(10)).await;
    let mut stuck = pin!(b.run(std::future::pending::<Result<(), io::Error>>));
    assert!((&mut stuck).now_or_never().is_none());
    advance(secs(29)).await;
    assert_eq!(rejected(succeed(&b).await).state(), State::HalfOpen);
    advance(secs(1)).await;
    let open = rejected(succeed(&b).await);
    assert_eq!(open.state(), State::Open);
    assert_eq!(open.retry_after(), secs(10));
}

#[tokio::test(start_paused = true)]
async fn open_duration_grows_on_repeated_reopens_and_resets_after_a_close() {
    let backoff = Backoff::exponential(secs(20))
        .max_delay(secs(50))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let b = breaker(
        small()
            .permitted_calls_in_half_open(1)
            .open_duration_backoff(backoff),
    );
    trip(&b).await;
    let mut open_for = vec![];
    for _ in 0..4 {
        let open = rejected(succeed(&b).await);
        open_for.push(open.retry_after());
        advance(open.retry_after()).await;
        let _ = fail(&b).await; // the probe fails: re-open
    }
    assert_eq!(open_for, [secs(10), secs(20), secs(40), secs(50)]);
    advance(secs(50)).await;
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::Closed);
    trip(&b).await;
    assert_eq!(rejected(succeed(&b).await).retry_after(), secs(10));
    advance(secs(10)).await;
    let _ = fail(&b).await;
    assert_eq!(rejected(succeed(&b).await).retry_after(), secs(20));
}

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_every_call_until_reset() {
    let b = breaker(small());
    b.force_open();
    advance(secs(3600)).await;
    let open = rejected(succeed(&b).await);
    assert_eq!(open.state(), State::ForcedOpen);
    assert_eq!(open.retry_after(), Duration::MAX);
    assert_eq!(open.to_string(), "circuit breaker is forced open");
    b.reset();
    succeed(&b).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn disabled_breaker_lets_every_call_through_and_records_nothing() {
    let b = breaker(small());
    b.disable();
    for _ in 0..20 {
        let r = fail(&b).await;
        assert!(matches!(r, Err(Error::Inner(_))));
    }
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.metrics().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn metrics_only_breaker_records_but_never_opens() {
    let b = breaker(small());
    b.metrics_only();
    for _ in 0..20 {
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::MetricsOnly);
    let m = b.metrics();
    assert_eq!((m.calls, m.failures, m.failure_rate), (4, 4, 1.0));
}

#[tokio::test(start_paused = true)]
async fn reset_closes_with_an_empty_window() {
    let b = breaker(small());
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    succeed(&b).await.unwrap();
    b.reset();
    assert_eq!(b.metrics().calls, 0);
    let _ = fail(&b).await;
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::Closed, "1 of 4 since the reset");
    trip(&b).await;
    b.reset();
    assert_eq!(b.state(), State::Closed);
    succeed(&b).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn listeners_see_state_changes_rejections_and_records_after_locks_are_released() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    // A listener that calls back into the breaker would deadlock if it ran under its lock.
    let slot: Arc<Mutex<Option<CircuitBreaker>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let b = small()
        .on_event(move |e: &Event| {
            if let Some(b) = inner.lock().unwrap().as_ref() {
                let _ = b.metrics();
                let _ = b.state();
            }
            seen.lock().unwrap().push(e.clone());
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(b.clone());
    trip(&b).await;
    let _ = succeed(&b).await;
    let events = events.lock().unwrap().clone();
    *slot.lock().unwrap() = None;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(
                e,
                Event::Recorded {
                    outcome: Verdict::Failure,
                    slow: false,
                    ..
                }
            ))
            .count(),
        4
    );
    assert!(events.contains(&Event::StateChanged {
        name: "circuit_breaker".into(),
        from: State::Closed,
        to: State::Open,
        reason: OpenReason::FailureRate { rate: 1.0 },
    }));
    assert!(events.contains(&Event::Rejected {
        name: "circuit_breaker".into(),
        state: State::Open,
        retry_after: secs(10),
    }));
}

#[tokio::test(start_paused = true)]
async fn subscribers_see_every_state_change() {
    let b = breaker(small().permitted_calls_in_half_open(1));
    let mut rx = b.subscribe();
    assert_eq!(*rx.borrow_and_update(), State::Closed);
    trip(&b).await;
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), State::Open);
    advance(secs(10)).await;
    succeed(&b).await.unwrap();
    assert_eq!(*rx.borrow_and_update(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_never_counts_even_when_dropped_calls_are_failures() {
    let b = breaker(
        small()
            .permitted_calls_in_half_open(1)
            .dropped_calls(bulwark::circuit_breaker::DroppedCall::Failure),
    );
    trip(&b).await;
    advance(secs(10)).await;
    let probe = Box::pin(b.run(std::future::pending::<Result<(), io::Error>>));
    drop(probe.now_or_never());
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.metrics().probes_in_flight, 0);
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn manual_transitions_into_the_current_state_are_no_ops() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let b = breaker(small().on_event(move |e| {
        if let Event::StateChanged { from, to, .. } = e {
            sink.lock().unwrap().push((*from, *to));
        }
    }));
    let mut rx = b.subscribe();
    rx.borrow_and_update();
    for (enter, state) in [
        (
            CircuitBreaker::force_open as fn(&CircuitBreaker),
            State::ForcedOpen,
        ),
        (CircuitBreaker::disable, State::Disabled),
        (CircuitBreaker::metrics_only, State::MetricsOnly),
    ] {
        enter(&b);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), state);
        events.lock().unwrap().clear();
        enter(&b);
        enter(&b);
        assert_eq!(b.state(), state);
        assert!(
            events.lock().unwrap().is_empty(),
            "{state:?} again is no transition"
        );
        assert!(
            !rx.has_changed().unwrap(),
            "{state:?} again wakes no subscriber"
        );
    }

    // Metrics-only again keeps the window, and a call admitted before completes recorded: no
    // new period began.
    let _ = fail(&b).await;
    let mut in_flight = pin!(b.run(|| async {
        sleep(secs(1)).await;
        Ok::<_, io::Error>(())
    }));
    assert!(in_flight.as_mut().now_or_never().is_none());
    b.metrics_only();
    assert_eq!(b.metrics().calls, 1, "the window is kept");
    advance(secs(1)).await;
    in_flight.await.unwrap();
    assert_eq!((b.metrics().calls, b.metrics().failures), (2, 1));

    // Reset of a closed circuit empties the window, quietly.
    b.reset();
    assert_eq!(*rx.borrow_and_update(), State::Closed);
    let _ = fail(&b).await;
    events.lock().unwrap().clear();
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().calls, 0, "reset empties a closed window");
    assert!(events.lock().unwrap().is_empty());
    assert!(!rx.has_changed().unwrap());
}

#[tokio::test(start_paused = true)]
async fn metrics_keep_the_tripping_window_while_open_and_count_probes_while_half_open() {
    let b = breaker(small());
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!((m.calls, m.failures, m.failure_rate), (4, 2, 0.5));
    assert_eq!((m.probes_in_flight, m.probes_completed), (0, 0));

    advance(secs(10)).await;
    succeed(&b).await.unwrap();
    let mut probe = pin!(b.run(|| async {
        sleep(secs(1)).await;
        Err::<(), _>(io::Error::other("still down"))
    }));
    assert!(probe.as_mut().now_or_never().is_none());
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!((m.calls, m.failures), (4, 2), "the window that tripped it");
    assert_eq!(
        (m.probes_in_flight, m.probes_completed, m.probes_failed),
        (1, 1, 0)
    );
    advance(secs(1)).await;
    let _ = probe.await;
    let m = b.metrics();
    assert_eq!(m.state, State::Open, "one of two probes failed: 50 %");
    assert_eq!((m.calls, m.failures), (4, 2));
    assert_eq!((m.probes_in_flight, m.probes_completed), (0, 0));

    advance(secs(10)).await;
    succeed(&b).await.unwrap();
    succeed(&b).await.unwrap();
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!(
        (m.calls, m.failures, m.probes_completed),
        (0, 0, 0),
        "a fresh window"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_time_window_keeps_its_figures_after_the_window_has_passed() {
    let b = breaker(small().time_window(secs(10)).open_duration(secs(60)));
    for _ in 0..4 {
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::Open);
    advance(secs(30)).await;
    let m = b.metrics();
    assert_eq!((m.state, m.calls, m.failures), (State::Open, 4, 4));
    b.force_open();
    assert_eq!(b.metrics().calls, 4, "forced open keeps them too");
}

#[tokio::test(start_paused = true)]
async fn max_wait_in_half_open_is_applied_when_the_state_is_read_without_traffic() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let b = breaker(small().max_wait_in_half_open(secs(5)).on_event(move |e| {
        if let Event::StateChanged { to, reason, .. } = e {
            sink.lock().unwrap().push((*to, *reason));
        }
    }));
    trip(&b).await;
    advance(secs(10)).await;
    succeed(&b).await.unwrap(); // one of two probes: still deciding
    assert_eq!(b.state(), State::HalfOpen);
    let mut rx = b.subscribe();
    rx.borrow_and_update();

    // No call arrives; 8 s later the half-open period ran out 3 s ago.
    advance(secs(8)).await;
    assert_eq!(b.state(), State::Open, "never a stale HalfOpen");
    assert_eq!(b.metrics().state, State::Open);
    assert_eq!(*rx.borrow_and_update(), State::Open);
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&(State::Open, OpenReason::HalfOpenTimedOut))
    );
    // The new open period started when the wait ran out, not when it was read.
    let open = rejected(succeed(&b).await);
    assert_eq!(open.retry_after(), secs(7));
}

/// A future that panics when polled.
async fn panicking() -> Result<(), io::Error> {
    panic!("the probe's future panicked")
}

/// A half-open probe whose closure or future panics: the panic reaches the caller, and the probe
/// is as if dropped, its slot free for the next probe (the circuit is not left half-open waiting
/// for a probe that never ends). Both doors.
#[tokio::test(start_paused = true)]
async fn a_panicking_probe_frees_its_slot() {
    use std::panic::AssertUnwindSafe;
    use tower::{Layer, Service, ServiceExt};
    let b = breaker(
        CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_duration(secs(10))
            .permitted_calls_in_half_open(1),
    );
    let half_open = || async {
        let _ = fail(&b).await;
        assert_eq!(b.state(), State::Open);
        advance(secs(10)).await;
    };
    for in_future in [false, true] {
        half_open().await;
        // The closure runs in `run` itself: the whole call goes inside `catch_unwind`.
        let call = async {
            b.run(|| {
                assert!(in_future, "the closure panicked");
                panicking()
            })
            .await
        };
        assert!(AssertUnwindSafe(call).catch_unwind().await.is_err());
        assert_eq!(b.metrics().probes_in_flight, 0);
        assert!(succeed(&b).await.is_ok());
        assert_eq!(b.state(), State::Closed);

        half_open().await;
        let inner = tower::service_fn(move |()| {
            assert!(in_future, "the inner service's call panicked");
            panicking()
        });
        let mut svc = b.layer().layer(inner);
        let call = async { svc.ready().await?.call(()).await };
        let out: Result<Result<(), tower::BoxError>, _> =
            AssertUnwindSafe(call).catch_unwind().await;
        assert!(out.is_err(), "the panic reaches the caller");
        assert_eq!(b.metrics().probes_in_flight, 0);
        assert!(succeed(&b).await.is_ok());
        assert_eq!(b.state(), State::Closed);
    }
}
