//! The generic cell rate algorithm (GCRA) on one atomic word.
//!
//! The configuration ([`Gcra`]: the emission interval `t` and the tolerance `tau`, in nanoseconds)
//! is separate from the state ([`Cell`]: one `AtomicU64`, the theoretical arrival time, TAT), so
//! one configuration can drive many cells (one per key) and a cell costs eight bytes.
//!
//! A call at instant `now` conforms when `now >= tat - tau`; it is then admitted and the cell moves
//! to `max(tat, now) + t`. A call that does not conform may reserve the next free instant,
//! `tat - tau`, if that is at most `max_wait` away: the cell then moves to `tat + t`, exactly as
//! if the call had arrived at that instant. Every change is one compare-and-swap of the whole
//! state, so concurrent callers are ordered by their swaps.
//!
//! Why no window admits more than `burst + len / t`: take the calls admitted (or scheduled) at
//! instants inside a window of length `len`, in the order of their swaps. Each swap raises the
//! cell by at least `t`, so when the last of `k` such calls swaps, `tat >= first + (k - 1) * t`,
//! and it conforms only if `last >= tat - tau = tat - (burst - 1) * t`. Hence
//! `last - first >= (k - burst) * t`, and `last - first <= len` gives `k <= burst + len / t`,
//! whatever order the threads read the clock in. With `t = ceil(period / n)` that is at most
//! `burst + n * len / period`.

use super::sync::{AtomicU64, Ordering};

/// The limit: one cell every `t` nanoseconds, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// The emission interval: `period / n`, rounded up to a whole nanosecond.
    t: u64,
    /// The tolerance: `(burst - 1) * t`.
    tau: u64,
}

/// The outcome of one decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Admitted now.
    Admitted,
    /// Admitted at `at` (later than now, at most `max_wait` away); the cell now reads `tat`,
    /// which [`Gcra::cancel`] needs to give the slot back.
    Scheduled { at: u64, tat: u64 },
    /// Not admitted: the first instant a call could be is `retry_after` nanoseconds away.
    Rejected { retry_after: u64 },
}

impl Gcra {
    /// `n` cells per `period_nanos`, `burst` at once. `None` when a value is zero or the
    /// tolerance does not fit in 2^62 nanoseconds (146 years).
    pub(crate) fn new(n: u64, period_nanos: u64, burst: u64) -> Option<Self> {
        if n == 0 || period_nanos == 0 || burst == 0 {
            return None;
        }
        let t = period_nanos.div_ceil(n);
        let tau = t.checked_mul(burst - 1)?;
        (tau.checked_add(t)? <= 1 << 62).then_some(Self { t, tau })
    }

    /// The emission interval in nanoseconds.
    pub(crate) fn interval(&self) -> u64 {
        self.t
    }

    /// Decides one call at the instant `clock` reads (nanoseconds since the cell's epoch),
    /// waiting at most `max_wait` nanoseconds.
    ///
    /// The clock is read again whenever the swap fails: the call that won the swap may have
    /// read the clock after this one did, and deciding on the older reading would turn this
    /// call away (for a few nanoseconds) when the limit still had room.
    #[inline]
    pub(crate) fn decide(
        &self,
        cell: &Cell,
        clock: impl Fn() -> u64,
        max_wait: u64,
    ) -> (u64, Decision) {
        let mut tat = cell.tat.load(Ordering::Acquire);
        loop {
            let now = clock();
            let earliest = tat.saturating_sub(self.tau);
            let (next, decision) = if now >= earliest {
                (tat.max(now).saturating_add(self.t), Decision::Admitted)
            } else {
                let wait = earliest - now;
                if wait > max_wait {
                    return (now, Decision::Rejected { retry_after: wait });
                }
                let next = tat.saturating_add(self.t);
                let at = earliest;
                (next, Decision::Scheduled { at, tat: next })
            };
            match cell
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return (now, decision),
                Err(current) => tat = current,
            }
        }
    }

    /// Gives back the slot a [`Decision::Scheduled`] reserved, if no call has changed the cell
    /// since (`tat` is what the reservation left there). Returns whether it did.
    ///
    /// Only the last reservation can be given back: a later one was placed after it, and moving
    /// the cell back under it would let a new call take the same instant twice.
    pub(crate) fn cancel(&self, cell: &Cell, tat: u64) -> bool {
        cell.tat
            .compare_exchange(tat, tat - self.t, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the whole burst is available at `now`: the cell is then the same as a new one.
    #[cfg(feature = "keyed")]
    pub(crate) fn is_full(&self, cell: &Cell, now: u64) -> bool {
        cell.tat.load(Ordering::Acquire) <= now
    }

    /// How long from `now` until a call would be admitted at once (zero if it would be now).
    pub(crate) fn wait_at(&self, cell: &Cell, now: u64) -> u64 {
        cell.tat
            .load(Ordering::Acquire)
            .saturating_sub(self.tau)
            .saturating_sub(now)
    }
}

/// The state of one limit: the theoretical arrival time, in nanoseconds since an epoch the
/// owner keeps. Starts at zero: a full burst is available at the epoch.
#[derive(Debug)]
pub(crate) struct Cell {
    tat: AtomicU64,
}

impl Cell {
    pub(crate) fn new() -> Self {
        Self {
            tat: AtomicU64::new(0),
        }
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_available_at_the_epoch_then_one_cell_per_interval() {
        let g = Gcra::new(10, 1_000, 3).unwrap();
        let c = Cell::new();
        for _ in 0..3 {
            assert_eq!(g.decide(&c, || 0, 0).1, Decision::Admitted);
        }
        assert_eq!(
            g.decide(&c, || 0, 0).1,
            Decision::Rejected { retry_after: 100 }
        );
        assert_eq!(g.decide(&c, || 100, 0).1, Decision::Admitted);
        assert_eq!(
            g.decide(&c, || 150, 0).1,
            Decision::Rejected { retry_after: 50 }
        );
    }

    #[test]
    fn the_interval_is_rounded_up_so_the_rate_is_never_exceeded() {
        assert_eq!(
            Gcra::new(3, 1_000_000_000, 1).unwrap().interval(),
            333_333_334
        );
        assert!(Gcra::new(0, 1, 1).is_none());
        assert!(Gcra::new(1, 0, 1).is_none());
        assert!(Gcra::new(1, 1, 0).is_none());
        assert!(Gcra::new(1, u64::MAX, 2).is_none());
    }

    #[test]
    fn a_reservation_is_given_back_only_while_it_is_the_last() {
        let g = Gcra::new(1, 10, 1).unwrap();
        let c = Cell::new();
        assert_eq!(g.decide(&c, || 0, 100).1, Decision::Admitted);
        let Decision::Scheduled { at: 10, tat: first } = g.decide(&c, || 0, 100).1 else {
            panic!("expected a reservation");
        };
        let Decision::Scheduled {
            at: 20,
            tat: second,
        } = g.decide(&c, || 0, 100).1
        else {
            panic!("expected a reservation");
        };
        assert!(!g.cancel(&c, first));
        assert!(g.cancel(&c, second));
        assert_eq!(
            g.decide(&c, || 0, 100).1,
            Decision::Scheduled { at: 20, tat: 30 }
        );
    }
}
