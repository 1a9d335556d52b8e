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
    assert_eq!(ticket.mode, Mode::Pass);
    timed
        .core()
        .start_with(&mut ticket, || panic!("a disabled breaker times nothing"));
    assert_eq!(ticket.start, UNTIMED);
}
