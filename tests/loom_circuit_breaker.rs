//! loom models of the circuit breaker's half-open admission and state transitions.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --test loom_circuit_breaker` (as
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
