//! The count-based sliding window: exactly the last `size` recorded calls, in a ring.
//!
//! # What "the last `size` calls" means
//!
//! Every recorded call takes the next position of one shared cursor (a compare-and-swap), so the
//! positions number the calls in the order they were recorded, whatever thread records them. The
//! call at position `p` lives in slot `p % size` until the call at `p + size` replaces it: the
//! ring holds the last `size` positions. A call recorded after another one finished recording
//! (on any thread: the second learned of the first through a channel, a lock, a join, a task
//! hand-off) takes a later position. Calls whose recordings overlap in time take their positions
//! in some order, and the window is then exactly what that order gives: a late writer whose
//! position has already been passed by a whole ring does not write (its call has left the
//! window), so an older call never overwrites a newer one.
//!
//! # Generations
//!
//! Each slot holds one call's flags tagged with the generation of the closed period that recorded
//! it; a slot with an older tag is empty, so a new generation starts with an empty window without
//! touching the ring. The cursor carries the generation too and starts at slot zero in each
//! generation, so a call admitted in an earlier period never takes a position in the new one.
//!
//! # Cost
//!
//! The totals (calls, failures, slow calls) are one packed word, changed only by the difference
//! between a call's flags and those of the call it replaces. When the window is full and every
//! call in it has the same flags (a healthy breaker: `size` successes), the cursor says so, and a
//! call with those flags is not written at all: pushing it in and the oldest call out gives the
//! same window. So a breaker that sees nothing but successes reads one shared word per call and
//! writes none. Any other call takes a position (a compare-and-swap on the cursor's own cache
//! line), writes its slot only if the content changes, changes the totals only if the flags
//! differ, and gives its place back (another compare-and-swap on the cursor). No lock, no
//! allocation.
//!
//! The cursor also counts the calls between taking a position and giving it back: the window is
//! marked uniform only when that count drops to zero, so a call that skips its write never
//! overtakes a call still writing.

use super::sync::{AtomicU64, Ordering, Padded, yield_now};
use super::window::{Counts, FAILURE, OCCUPIED, SLOW};

/// The largest window: the packed totals keep 16 bits per count, and a count may stray from its
/// true value by the number of recorders in flight, which this bound leaves room for.
pub(crate) const MAX_SIZE: u32 = 32_767;

// The cursor word, from the low bits up.
const INDEX_BITS: u32 = 15; // the next position's slot, below MAX_SIZE + 1
const LAP_SHIFT: u32 = INDEX_BITS;
const LAP_BITS: u32 = 18; // how many times the ring has come round, wrapping
const FLAGS_SHIFT: u32 = LAP_SHIFT + LAP_BITS;
const FLAGS_BITS: u32 = 3; // the flags every call of a uniform window has
const UNIFORM: u64 = 1 << (FLAGS_SHIFT + FLAGS_BITS);
const PENDING_SHIFT: u32 = FLAGS_SHIFT + FLAGS_BITS + 1;
const PENDING_BITS: u32 = 11; // calls between taking a position and giving it back
const GEN_SHIFT: u32 = PENDING_SHIFT + PENDING_BITS; // = 48: the generation's low 16 bits

const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const LAP_MASK: u64 = (1 << LAP_BITS) - 1;
const FLAGS_MASK: u64 = (1 << FLAGS_BITS) - 1;
const PENDING_MASK: u64 = (1 << PENDING_BITS) - 1;
const PENDING_ONE: u64 = 1 << PENDING_SHIFT;
/// The uniform mark and the flags it vouches for.
const MARK_MASK: u64 = UNIFORM + (FLAGS_MASK << FLAGS_SHIFT);

const _: () = assert!(GEN_SHIFT == 48);
const _: () = assert!(MAX_SIZE as u64 <= INDEX_MASK);

#[derive(Debug)]
pub(crate) struct CountWindow {
    size: u32,
    slots: Box<[AtomicU64]>,
    /// `gen (16) | pending (11) | uniform (1) | flags (3) | lap (18) | index (15)`.
    cursor: Padded<AtomicU64>,
    /// `gen (16) | calls (16) | failures (16) | slow (16)`, each count wrapping.
    totals: Padded<AtomicU64>,
}

const fn tag(generation: u32, flags: u8) -> u64 {
    ((generation as u64) << 8) + flags as u64
}

/// The cursor's mark of a uniform window of calls with `flags`.
const fn marked(flags: u8) -> u64 {
    UNIFORM + ((flags as u64) << FLAGS_SHIFT)
}

const fn fresh_cursor(generation: u32) -> u64 {
    (generation as u16 as u64) << GEN_SHIFT
}

const fn cursor_gen(cursor: u64) -> u16 {
    (cursor >> GEN_SHIFT) as u16
}

const fn pending(cursor: u64) -> u64 {
    (cursor >> PENDING_SHIFT) & PENDING_MASK
}

const fn pack(generation: u32, calls: u16, failures: u16, slow: u16) -> u64 {
    ((generation as u16 as u64) << 48)
        + ((calls as u64) << 32)
        + ((failures as u64) << 16)
        + slow as u64
}

/// Whether a call of `generation` with `flags` takes no position at `cursor`: the cursor belongs
/// to another generation, or the window is uniform with exactly these flags.
#[inline]
const fn skipped(cursor: u64, generation: u32, flags: u8) -> bool {
    cursor_gen(cursor) != generation as u16 || cursor & MARK_MASK == marked(flags)
}

/// A position in the ring: how many times the ring had come round (wrapping), and the slot.
#[derive(Clone, Copy)]
struct Position {
    lap: u64,
    index: u64,
}

impl Position {
    const fn of(cursor: u64) -> Self {
        Self {
            lap: (cursor >> LAP_SHIFT) & LAP_MASK,
            index: cursor & INDEX_MASK,
        }
    }

    /// Whether the call at this position has left the window, `next` being the cursor's next
    /// position: the position one ring later has been taken.
    const fn passed(self, next: Position) -> bool {
        let laps = next.lap.wrapping_sub(self.lap) & LAP_MASK;
        laps >= 2 || (laps == 1 && next.index > self.index)
    }
}

impl CountWindow {
    /// `size` is validated by the builder (1 ..= MAX_SIZE); `generation` is the current one.
    pub(crate) fn new(size: u32, generation: u32) -> Self {
        let size = size.clamp(1, MAX_SIZE);
        Self {
            size,
            slots: (0..size).map(|_| AtomicU64::new(0)).collect(),
            cursor: Padded(AtomicU64::new(fresh_cursor(generation))),
            totals: Padded(AtomicU64::new(pack(generation, 0, 0, 0))),
        }
    }

    /// Records one call of `generation` with `flags`. Returns the totals after it when they
    /// changed, `None` when they did not (or the call belongs to an older generation).
    #[inline]
    pub(crate) fn record(&self, generation: u32, flags: u8) -> Option<Counts> {
        let at = self.take_position(generation, flags)?;
        let counts = self.write(generation, at, flags);
        self.give_back(generation);
        counts
    }

    /// Takes the next position of `generation`, or `None` when the call need not be written (the
    /// window is uniform with its flags) or belongs to an older generation.
    #[inline]
    fn take_position(&self, generation: u32, flags: u8) -> Option<Position> {
        let mut current = self.cursor.load(Ordering::Relaxed);
        loop {
            if skipped(current, generation, flags) {
                return None;
            }
            if pending(current) == PENDING_MASK {
                // As many calls as the cursor can count are between taking a position and giving
                // it back: wait for one of them (only with thousands of threads recording at once).
                yield_now();
                current = self.cursor.load(Ordering::Relaxed);
                continue;
            }
            let at = Position::of(current);
            let (lap, index) = if at.index + 1 >= u64::from(self.size) {
                ((at.lap + 1) & LAP_MASK, 0)
            } else {
                (at.lap, at.index + 1)
            };
            // One more call in flight (the generation and the count are kept, the bits below
            // are rewritten); the window is no longer known to be uniform.
            let kept = current & !(PENDING_ONE - 1);
            let next = kept + PENDING_ONE + (lap << LAP_SHIFT) + index;
            match self.cursor.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(at),
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether [`record`](Self::record) would skip a call of `generation` with `flags` as the
    /// cursor stands now (an older generation, or a uniform window of such calls): it would write
    /// nothing and return `None`.
    #[inline]
    pub(crate) fn skips(&self, generation: u32, flags: u8) -> bool {
        skipped(self.cursor.load(Ordering::Relaxed), generation, flags)
    }

    /// Writes the call at `at` into its slot, unless its content would not change or a whole
    /// ring of later calls has passed it; then applies the difference to the totals.
    fn write(&self, generation: u32, at: Position, flags: u8) -> Option<Counts> {
        let slot = self.slots.get(at.index as usize)?;
        let new = tag(generation, flags);
        // Acquire: a newer call's write seen here makes its position seen by the cursor load.
        let mut old = slot.load(Ordering::Acquire);
        loop {
            if old == new {
                return None;
            }
            let cursor = self.cursor.load(Ordering::Acquire);
            if cursor_gen(cursor) != generation as u16 || at.passed(Position::of(cursor)) {
                return None; // a newer generation, or the call one ring later, owns the slot
            }
            if ((old >> 8) as u32).wrapping_sub(generation) as i32 > 0 {
                return None;
            }
            match slot.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        let old_flags = if (old >> 8) as u32 == generation {
            old as u8
        } else {
            0
        };
        if old_flags == flags {
            return None;
        }
        let delta =
            |bit: u8| (i32::from(flags & bit != 0) - i32::from(old_flags & bit != 0)) as u16;
        let (dc, df, ds) = (delta(OCCUPIED), delta(FAILURE), delta(SLOW));
        let mut word = self.totals.load(Ordering::Relaxed);
        loop {
            if (word >> 48) as u16 != generation as u16 {
                return None;
            }
            let field = |shift: u32, d: u16| ((word >> shift) as u16).wrapping_add(d);
            let next = pack(generation, field(32, dc), field(16, df), field(0, ds));
            match self.totals.compare_exchange_weak(
                word,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.unpack(next)),
                Err(actual) => word = actual,
            }
        }
    }

    /// Gives back the place taken by [`take_position`](Self::take_position). The last call to
    /// give its place back marks the window uniform if it is: full, and every call alike.
    fn give_back(&self, generation: u32) {
        let mut current = self.cursor.load(Ordering::Acquire);
        loop {
            if cursor_gen(current) != generation as u16 || pending(current) == 0 {
                return; // the window was reset meanwhile: nothing to give back
            }
            let mut next = current - PENDING_ONE;
            if pending(current) == 1 {
                // Every other call that took a position has given it back (their totals are
                // seen through the cursor's release sequence): the totals are the ring's content.
                // The mark's bits are clear: every position taken since the last mark cleared it.
                if let Some(flags) = self.uniform(generation, self.totals.load(Ordering::Acquire)) {
                    next += marked(flags);
                }
            }
            match self.cursor.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The flags every call has, when `totals` describe a full window of calls all alike.
    fn uniform(&self, generation: u32, totals: u64) -> Option<u8> {
        if (totals >> 48) as u16 != generation as u16 {
            return None;
        }
        let counts = self.unpack(totals);
        let all_or_none = |n: u32, bit: u8| match n {
            0 => Some(0),
            n if n == self.size => Some(bit),
            _ => None,
        };
        if counts.calls != self.size {
            return None;
        }
        Some(OCCUPIED + all_or_none(counts.failures, FAILURE)? + all_or_none(counts.slow, SLOW)?)
    }

    /// Reads a wrapped 16-bit count. While recorders apply their changes, a count may stray from
    /// the ring's content by the number of recorders in flight: above `size`, or below zero (it
    /// wraps). It reads as the nearer bound.
    fn count(&self, word: u64, shift: u32) -> u32 {
        let value = u32::from((word >> shift) as u16);
        if value <= self.size {
            value
        } else if value - self.size < (1 << 16) - value {
            self.size
        } else {
            0
        }
    }

    fn unpack(&self, word: u64) -> Counts {
        Counts {
            calls: self.count(word, 32),
            failures: self.count(word, 16),
            slow: self.count(word, 0),
        }
    }

    /// The totals of `generation` (empty if the window belongs to another one).
    pub(crate) fn counts(&self, generation: u32) -> Counts {
        let word = self.totals.load(Ordering::Relaxed);
        if (word >> 48) as u16 == generation as u16 {
            self.unpack(word)
        } else {
            Counts::default()
        }
    }

    /// Empties the window for a new generation: the ring's older tags now read as empty, and the
    /// positions of the new generation start at slot zero.
    pub(crate) fn reset(&self, generation: u32) {
        self.totals
            .store(pack(generation, 0, 0, 0), Ordering::Relaxed);
        self.cursor
            .store(fresh_cursor(generation), Ordering::Release);
    }
}

#[cfg(all(test, not(bulwark_loom)))]
#[path = "count_window_tests.rs"]
mod tests;
