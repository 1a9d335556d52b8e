//! The count window's own promises, driven step by step: a call's three steps (take a position,
//! write, give it back) are called one at a time, so the interleavings of threads that record at
//! once are replayed exactly, without threads.

use super::*;

const SUCCESS: u8 = OCCUPIED;
const FAIL: u8 = OCCUPIED | FAILURE;
const SLOW_SUCCESS: u8 = OCCUPIED | SLOW;
const SLOW_FAIL: u8 = OCCUPIED | FAILURE | SLOW;

fn counts(calls: u32, failures: u32, slow: u32) -> Counts {
    Counts {
        calls,
        failures,
        slow,
    }
}

fn slot(w: &CountWindow, index: usize) -> u64 {
    w.slots[index].load(Ordering::Relaxed)
}

#[test]
fn the_window_keeps_the_last_size_calls_ring_after_ring() {
    let w = CountWindow::new(3, 0);
    for _ in 0..3 {
        w.record(0, FAIL);
    }
    assert_eq!(w.counts(0), counts(3, 3, 0));
    w.record(0, SUCCESS);
    w.record(0, SLOW_SUCCESS);
    assert_eq!(w.counts(0), counts(3, 1, 1));
    w.record(0, SUCCESS);
    assert_eq!(w.counts(0), counts(3, 0, 1));
    // Second and third rings: the oldest call leaves as each new one comes in.
    for round in 0..6 {
        w.record(0, FAIL);
        assert_eq!(w.counts(0).calls, 3);
        assert_eq!(w.counts(0).failures, (round + 1).min(3), "round {round}");
    }
}

/// A full window of like calls is marked uniform: a call with the same flags takes no position
/// and writes nothing (the cursor and the ring stay as they are); a call with other flags does.
#[test]
fn a_uniform_window_takes_no_position_for_a_like_call() {
    for generation in [0, 1, 7] {
        for flags in [SUCCESS, FAIL, SLOW_SUCCESS, SLOW_FAIL] {
            let w = CountWindow::new(4, generation);
            for i in 0..3 {
                assert!(!w.skips(generation, flags), "not full yet");
                w.record(generation, flags);
                // Not full yet: every call takes a position.
                assert_eq!(Position::of(w.cursor.load(Ordering::Relaxed)).index, i + 1);
            }
            w.record(generation, flags);
            let cursor = w.cursor.load(Ordering::Relaxed);
            assert_ne!(
                cursor & UNIFORM,
                0,
                "generation {generation}, flags {flags}"
            );
            assert!(w.skips(generation, flags));
            assert!(!w.skips(generation, flags ^ FAILURE));
            assert!(!w.skips(generation, flags ^ SLOW));
            assert!(
                w.skips(generation + 1, SUCCESS),
                "another generation records nothing"
            );
            let ring: Vec<u64> = (0..4).map(|i| slot(&w, i)).collect();
            for _ in 0..10 {
                assert!(w.take_position(generation, flags).is_none());
                w.record(generation, flags);
            }
            assert_eq!(w.cursor.load(Ordering::Relaxed), cursor);
            assert_eq!((0..4).map(|i| slot(&w, i)).collect::<Vec<_>>(), ring);
            let expected = counts(
                4,
                if flags & FAILURE != 0 { 4 } else { 0 },
                if flags & SLOW != 0 { 4 } else { 0 },
            );
            assert_eq!(w.counts(generation), expected);

            // Another kind of call takes a position and clears the mark.
            let other = if flags == SUCCESS { FAIL } else { SUCCESS };
            w.record(generation, other);
            let after = w.cursor.load(Ordering::Relaxed);
            assert_ne!(after, cursor);
            assert_eq!(after & UNIFORM, 0);
            assert_eq!(w.counts(generation).calls, 4);
            // And the like call takes a position again until the window is uniform again.
            assert!(w.take_position(generation, flags).is_some());
        }
    }
}

#[test]
fn uniform_reads_the_flags_of_a_full_window_of_like_calls_only() {
    let w = CountWindow::new(4, 3);
    let totals = |calls, failures, slow| pack(3, calls, failures, slow);
    assert_eq!(w.uniform(3, totals(4, 0, 0)), Some(SUCCESS));
    assert_eq!(w.uniform(3, totals(4, 4, 0)), Some(FAIL));
    assert_eq!(w.uniform(3, totals(4, 0, 4)), Some(SLOW_SUCCESS));
    assert_eq!(w.uniform(3, totals(4, 4, 4)), Some(SLOW_FAIL));
    assert_eq!(w.uniform(3, totals(3, 0, 0)), None, "not full");
    assert_eq!(w.uniform(3, totals(4, 1, 0)), None, "mixed failures");
    assert_eq!(w.uniform(3, totals(4, 0, 2)), None, "mixed slow calls");
    assert_eq!(w.uniform(2, totals(4, 0, 0)), None, "another generation");
    assert_eq!(w.uniform(4, totals(4, 0, 0)), None, "another generation");
}

/// The window is marked uniform only by the last of the calls in flight to give its place back.
#[test]
fn no_uniform_mark_while_another_call_is_in_flight() {
    let w = CountWindow::new(2, 0);
    let a = w.take_position(0, SUCCESS).expect("a position");
    let b = w.take_position(0, SUCCESS).expect("a position");
    assert_eq!(pending(w.cursor.load(Ordering::Relaxed)), 2);
    w.write(0, a, SUCCESS);
    w.write(0, b, SUCCESS);
    w.give_back(0);
    let cursor = w.cursor.load(Ordering::Relaxed);
    assert_eq!(pending(cursor), 1);
    assert_eq!(cursor & UNIFORM, 0, "b has not given its place back");
    w.give_back(0);
    let cursor = w.cursor.load(Ordering::Relaxed);
    assert_eq!(pending(cursor), 0);
    assert_ne!(cursor & UNIFORM, 0);
    assert!(w.take_position(0, SUCCESS).is_none());
}

/// A writer that stalled after taking its position, while a whole ring of later calls passed it,
/// does not write: an older call never overwrites a newer one.
#[test]
fn a_writer_passed_by_a_whole_ring_does_not_write() {
    let w = CountWindow::new(2, 0);
    let stalled = w.take_position(0, FAIL).expect("a position"); // position 0, slot 0
    w.record(0, SUCCESS); // position 1, slot 1
    w.record(0, SLOW_SUCCESS); // position 2, slot 0 again: it passed the stalled call
    let newer = slot(&w, 0);
    assert_eq!(newer, tag(0, SLOW_SUCCESS));
    assert_eq!(w.write(0, stalled, FAIL), None);
    w.give_back(0);
    assert_eq!(slot(&w, 0), newer);
    assert_eq!(w.counts(0), counts(2, 0, 1));

    // Laps later, with the cursor near the end of a ring, the same holds.
    let w = CountWindow::new(3, 0);
    for _ in 0..10 {
        w.record(0, FAIL);
        w.record(0, SUCCESS);
    }
    let stalled = w.take_position(0, SLOW_FAIL).expect("a position");
    for _ in 0..3 {
        w.record(0, SUCCESS);
    }
    assert_eq!(w.write(0, stalled, SLOW_FAIL), None);
    w.give_back(0);
    assert_eq!(w.counts(0), counts(3, 0, 0));
}

/// A stalled writer whose slot no later call has reached yet writes as usual.
#[test]
fn a_writer_not_yet_passed_writes() {
    let w = CountWindow::new(2, 0);
    let stalled = w.take_position(0, FAIL).expect("a position"); // position 0
    w.record(0, SUCCESS); // position 1: the ring has not come round to slot 0
    assert!(w.write(0, stalled, FAIL).is_some());
    w.give_back(0);
    assert_eq!(w.counts(0), counts(2, 1, 0));

    // Two laps on, one position short of a ring.
    let w = CountWindow::new(3, 0);
    for _ in 0..7 {
        w.record(0, SUCCESS);
        w.record(0, FAIL);
    }
    let stalled = w.take_position(0, SLOW_FAIL).expect("a position");
    w.record(0, SUCCESS);
    w.record(0, SUCCESS);
    assert!(w.write(0, stalled, SLOW_FAIL).is_some());
    w.give_back(0);
    assert_eq!(w.counts(0), counts(3, 1, 1));
}

/// A call of a period that ended writes nothing into the next one, and giving its place back
/// leaves the new period's cursor alone, even when the generations agree in their low 16 bits (the
/// cursor keeps only those; the write of such a call is not tested: 65,536 transitions while one
/// call records is not a case the window tells apart).
#[test]
fn a_call_of_an_older_generation_leaves_the_new_window_alone() {
    for next in [1, 1 << 16] {
        let w = CountWindow::new(2, 0);
        let stalled = w.take_position(0, FAIL).expect("a position");
        w.reset(next);
        if next == 1 {
            assert_eq!(w.write(0, stalled, FAIL), None);
        }
        w.give_back(0);
        assert_eq!(pending(w.cursor.load(Ordering::Relaxed)), 0);
        w.record(next, FAIL);
        w.record(next, SUCCESS);
        assert_eq!(w.counts(next), counts(2, 1, 0), "next generation {next}");
        w.record(next, SUCCESS);
        w.record(next, SUCCESS);
        assert_ne!(w.cursor.load(Ordering::Relaxed) & UNIFORM, 0);
    }
}

/// A count strays from the ring by the recorders in flight: above `size` it reads as `size`,
/// below zero (wrapped) as zero, whichever bound is nearer.
#[test]
fn a_stray_count_reads_as_the_nearer_bound() {
    let w = CountWindow::new(10, 0);
    let read = |value: u16| w.count(u64::from(value) << 16, 16);
    assert_eq!(read(0), 0);
    assert_eq!(read(7), 7);
    assert_eq!(read(10), 10);
    assert_eq!(read(11), 10);
    assert_eq!(read(300), 10);
    assert_eq!(read(u16::MAX), 0);
    assert_eq!(read(u16::MAX - 300), 0);
    // The midpoint between 10 and 65,536: 32,772 is nearer to 10, 32,773 is as near to zero.
    assert_eq!(read(32_772), 10);
    assert_eq!(read(32_773), 0);
    assert_eq!(read(32_774), 0);
}
