//! The core's promises that no public call shows: when it reads the clock.

use super::*;
use crate::circuit_breaker::CircuitBreaker;

#[test]
fn a_call_reads_the_clock_at_its_start_only_for_the_slow_call_rule() {
    let plain = CircuitBreaker::builder().build().unwrap();
    let mut ticket = plain.core().acquire(true).unwrap();
    plain
        .core()
        .start_with(&mut ticket, || panic!("no slow-call rule: no clock read"));
    assert_eq!(ticket.start, UNTIMED);

    let timed = CircuitBreaker::builder()
        .slow_call_threshold(Duration::from_secs(1), 0.5)
        .build()
        .unwrap();
    let mut ticket = timed.core().acquire(true).unwrap();
    let now = Instant::now();
    timed.core().start_with(&mut ticket, || now);
    assert_eq!(ticket.start, timed.core().nanos_at(now));
    assert_ne!(ticket.start, UNTIMED);

    timed.disable();
    let mut ticket = timed.core().acquire(true).unwrap();
    assert_eq!(ticket.mode(), Mode::Pass);
    timed
        .core()
        .start_with(&mut ticket, || panic!("a disabled breaker times nothing"));
    assert_eq!(ticket.start, UNTIMED);
}

/// A success that finds the window full of successes still ends a run of failures counted in a
/// row: the interleaving where failures have been counted but not yet written to the window (their
/// threads are between the two steps) is replayed here by setting the count directly.
#[test]
fn a_success_into_a_uniform_window_still_ends_a_run_of_failures() {
    let b = CircuitBreaker::builder()
        .count_window(2)
        .consecutive_failures(3)
        .build()
        .unwrap();
    let core = b.core();
    for _ in 0..2 {
        let ticket = core.acquire(true).unwrap();
        core.record(ticket, crate::classify::Verdict::Success);
    }
    let ticket = core.acquire(true).unwrap();
    let tag = u64::from(ticket.generation()) << 32;
    core.consecutive.store(tag + 2, Ordering::Relaxed);
    core.record(ticket, crate::classify::Verdict::Success);
    assert_eq!(
        core.consecutive.load(Ordering::Relaxed),
        tag,
        "the run is over"
    );
}

#[test]
fn a_ticket_keeps_its_generation_and_mode_in_two_words() {
    let modes = [
        Mode::Record { trips: true },
        Mode::Record { trips: false },
        Mode::Probe,
        Mode::Pass,
    ];
    for generation in [0, 1, 0xff, 0x1_0000, u32::MAX - 1, u32::MAX] {
        for mode in modes {
            let ticket = Ticket::new(generation, mode);
            assert_eq!(ticket.generation(), generation);
            assert_eq!(ticket.mode(), mode);
            assert_eq!(ticket.start, UNTIMED);
        }
    }
    assert_eq!(std::mem::size_of::<Option<Ticket>>(), 16);
}
