//! loom models of the circuit breaker's half-open admission, state transitions and count window.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --test loom` (as
//! `.ci/run` does): the breaker's atomics and its transition mutex are then loom's, and loom
//! explores every interleaving of the threads below.
#![cfg(bulwark_loom)]

use bulwark::backoff::{Backoff, Jitter};
use bulwark::circuit_breaker::{CircuitBreaker, Event, State};
use futures::FutureExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

type Events = Arc<Mutex<Vec<Event>>>;

/// A breaker that half-opens at the first call after tripping (and stays open an hour after a
/// failed trial), with `probes` probe slots, and the list of its events.
fn tripped(probes: u32) -> (CircuitBreaker, Events) {
    let an_hour = Backoff::constant(Duration::from_secs(3600))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let events: Events = Arc::default();
    let seen = events.clone();
    let b = CircuitBreaker::builder()
        .count_window(2)
        .minimum_calls(1)
        .open_duration(Duration::ZERO)
        .open_duration_backoff(an_hour)
        .permitted_calls_in_half_open(probes)
        .on_event(move |e| {
            if matches!(e, Event::StateChanged { .. }) {
                seen.lock().unwrap().push(e.clone());
            }
        })
        .build()
        .unwrap();
    let _ = b.run(|| async { Err::<(), _>("down") }).now_or_never();
    assert_eq!(b.state(), State::Open);
    events.lock().unwrap().clear();
    (b, events)
}

fn changes_to(events: &Events, to: State) -> usize {
    let events = events.lock().unwrap();
    events
        .iter()
        .filter(|e| matches!(e, Event::StateChanged { to: t, .. } if *t == to))
        .count()
}

/// Polls `fut` once; `Some(future)` if it is still pending (an admitted probe in flight).
fn start<F: Future + Unpin>(mut fut: F) -> Option<F> {
    let waker = futures::task::noop_waker();
    match Pin::new(&mut fut).poll(&mut Context::from_waker(&waker)) {
        Poll::Pending => Some(fut),
        Poll::Ready(_) => None,
    }
}

#[test]
fn half_open_admits_at_most_the_permitted_probes() {
    loom::model(|| {
        let (b, _) = tripped(1);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, owned) = (b.clone(), b.clone());
                loom::thread::spawn(move || {
                    let probe =
                        Box::pin(
                            async move { owned.run(std::future::pending::<Result<(), ()>>).await },
                        );
                    let held = start(probe);
                    let admitted = held.is_some();
                    assert!(b.metrics().probes_in_flight <= 1);
                    (admitted, held)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let admitted = results.iter().filter(|(a, _)| *a).count();
        assert_eq!(
            admitted, 1,
            "exactly one of two racing callers gets the one slot"
        );
        assert_eq!(b.state(), State::HalfOpen);
        drop(results);
        assert_eq!(
            b.metrics().probes_in_flight,
            0,
            "dropped probes give their slots back"
        );
    });
}

#[test]
fn racing_probe_outcomes_decide_the_half_open_state_once() {
    loom::model(|| {
        // Two probe slots, threshold 50 %: one failure among two permitted probes re-opens,
        // whichever probe completes first.
        let (b, events) = tripped(2);
        let probes: Vec<_> = [true, false]
            .into_iter()
            .map(|fail| {
                let b = b.clone();
                loom::thread::spawn(move || {
                    let _ = b
                        .run(|| async move { if fail { Err(()) } else { Ok(()) } })
                        .now_or_never();
                })
            })
            .collect();
        for p in probes {
            p.join().unwrap();
        }
        assert_eq!(changes_to(&events, State::Closed), 0);
        assert_eq!(changes_to(&events, State::Open), 1);
        assert_eq!(b.state(), State::Open);
        assert_eq!(*b.subscribe().borrow(), State::Open);
    });
}

#[test]
fn successful_racing_probes_close_the_circuit_exactly_once() {
    loom::model(|| {
        let (b, events) = tripped(2);
        let probes: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                loom::thread::spawn(move || {
                    let _ = b.run(|| async { Ok::<_, ()>(()) }).now_or_never();
                })
            })
            .collect();
        for p in probes {
            p.join().unwrap();
        }
        // One probe may find the circuit already closed and run as a closed-state call.
        assert_eq!(changes_to(&events, State::Closed), 1);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(*b.subscribe().borrow(), State::Closed);
    });
}

#[test]
fn a_trip_racing_a_reset_leaves_a_consistent_state() {
    loom::model(|| {
        let b = CircuitBreaker::builder()
            .count_window(2)
            .minimum_calls(1)
            .build()
            .unwrap();
        let tripper = {
            let b = b.clone();
            loom::thread::spawn(move || {
                let _ = b.run(|| async { Err::<(), _>(()) }).now_or_never();
            })
        };
        let resetter = {
            let b = b.clone();
            loom::thread::spawn(move || b.reset())
        };
        tripper.join().unwrap();
        resetter.join().unwrap();
        let state = b.state();
        assert!(matches!(state, State::Open | State::Closed));
        assert_eq!(
            *b.subscribe().borrow(),
            state,
            "the watch agrees with the state"
        );
        if state == State::Closed {
            // The reset came last, or the stale failure was dropped: the window is empty or
            // holds no more than the one failure, never a corrupt count.
            assert!(b.metrics().calls <= 1);
        }
    });
}

#[test]
fn a_dropped_probe_racing_new_callers_never_lets_two_probes_run() {
    loom::model(|| {
        let (b, _) = tripped(1);
        let first = {
            let (b, owned) = (b.clone(), b.clone());
            loom::thread::spawn(move || {
                let held = start(Box::pin(async move {
                    owned.run(std::future::pending::<Result<(), ()>>).await
                }));
                assert!(b.metrics().probes_in_flight <= 1);
                drop(held);
            })
        };
        let second = {
            let (b, owned) = (b.clone(), b.clone());
            loom::thread::spawn(move || {
                let held = start(Box::pin(async move {
                    owned.run(std::future::pending::<Result<(), ()>>).await
                }));
                assert!(b.metrics().probes_in_flight <= 1);
                held.is_some()
            })
        };
        first.join().unwrap();
        let _ = second.join().unwrap();
        assert_eq!(b.metrics().probes_in_flight, 0);
        assert_eq!(b.state(), State::HalfOpen, "dropped probes decide nothing");
    });
}

/// Records one call on `b` (its future completes at once) and returns the window's figures.
fn record(b: &CircuitBreaker, fail: bool) -> (u32, u32) {
    let _ = b
        .run(|| async move { if fail { Err(()) } else { Ok(()) } })
        .now_or_never();
    let m = b.metrics();
    (m.calls, m.failures)
}

/// Explores the interleavings with at most three preemptions (as tokio's own models do): each
/// recording is a dozen atomic operations, and an unbounded search of two threads recording two
/// calls each does not finish.
fn model_bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn racing_recorders_leave_the_count_window_equal_to_the_last_n_calls() {
    model_bounded(|| {
        // A window of 2 (smaller than any block of positions a thread could reserve), metrics
        // only so that it never trips. Thread A records a failure then a success, thread B a
        // success then a failure. In every order of those four calls that keeps each thread's
        // own order, the last two hold exactly one failure.
        let b = CircuitBreaker::builder().count_window(2).build().unwrap();
        b.metrics_only();
        let threads: Vec<_> = [[true, false], [false, true]]
            .into_iter()
            .map(|calls| {
                let b = b.clone();
                loom::thread::spawn(move || {
                    for fail in calls {
                        record(&b, fail);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let m = b.metrics();
        assert_eq!((m.calls, m.failures), (2, 1), "totals match the ring");
        // Calls recorded one after another are exact: one success leaves the failure only if it
        // was the last of the four; two leave none.
        let (calls, failures) = record(&b, false);
        assert!(
            calls == 2 && failures <= 1,
            "{calls} calls, {failures} failures"
        );
        assert_eq!(record(&b, false), (2, 0));
        assert_eq!(record(&b, true), (2, 1));
    });
}

#[test]
fn calls_taking_turns_on_two_threads_are_recorded_in_order() {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    model_bounded(|| {
        // The threads hand a turn back and forth, so no two calls overlap; after each call the
        // window of 2 holds exactly the last two calls.
        let b = CircuitBreaker::builder().count_window(2).build().unwrap();
        b.metrics_only();
        let turn = std::sync::Arc::new(AtomicUsize::new(0));
        let wait_for = |turn: &AtomicUsize, n: usize| {
            while turn.load(Ordering::Acquire) != n {
                loom::thread::yield_now();
            }
        };
        let other = {
            let (b, turn) = (b.clone(), turn.clone());
            loom::thread::spawn(move || {
                wait_for(&turn, 1);
                assert_eq!(record(&b, false), (2, 1));
                turn.store(2, Ordering::Release);
            })
        };
        assert_eq!(record(&b, true), (1, 1));
        turn.store(1, Ordering::Release);
        wait_for(&turn, 2);
        assert_eq!(record(&b, false), (2, 0));
        other.join().unwrap();
    });
}

#[test]
fn a_call_skipped_in_a_uniform_window_never_overtakes_one_still_recording() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    model_bounded(|| {
        // A full window of successes is uniform: a success arriving then is not written. Thread
        // A records a failure while thread B records two successes. The failure is still in the
        // window at the end unless it came first; and if either thread finished before the
        // other started, the order is known and so is the window.
        let b = CircuitBreaker::builder().count_window(2).build().unwrap();
        b.metrics_only();
        record(&b, false);
        record(&b, false);
        let (a_done, b_done) = (
            std::sync::Arc::new(AtomicBool::new(false)),
            std::sync::Arc::new(AtomicBool::new(false)),
        );
        let a = {
            let (b, a_done, b_done) = (b.clone(), a_done.clone(), b_done.clone());
            loom::thread::spawn(move || {
                let b_first = b_done.load(Ordering::Acquire);
                record(&b, true);
                a_done.store(true, Ordering::Release);
                b_first
            })
        };
        let a_first = a_done.load(Ordering::Acquire);
        record(&b, false);
        record(&b, false);
        b_done.store(true, Ordering::Release);
        let b_first = a.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.calls, 2);
        if a_first {
            assert_eq!(
                m.failures, 0,
                "the failure came first, two successes followed"
            );
        }
        if b_first {
            assert_eq!(m.failures, 1, "the failure came last");
        }
        assert!(m.failures <= 1);
        let (calls, failures) = record(&b, false);
        assert!(calls == 2 && failures <= m.failures);
        assert_eq!(record(&b, false), (2, 0));
        assert_eq!(record(&b, true), (2, 1));
    });
}
