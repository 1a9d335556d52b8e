//! Synchronisation primitives: `std`'s, or loom's models of them under `--cfg bulwark_loom`, plus the
//! striping that keeps per-call writes off shared cache lines.

#[cfg(bulwark_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(bulwark_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(bulwark_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(bulwark_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Lets other threads run (loom's model of it under `--cfg bulwark_loom`).
#[cfg(not(bulwark_loom))]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// Lets other threads run (loom's model of it under `--cfg bulwark_loom`).
#[cfg(bulwark_loom)]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
}

pub(crate) use crate::stripe::{Padded, stripe_count};

/// The stripe the current thread writes to, below `stripes` (a power of two).
#[cfg(not(bulwark_loom))]
#[inline]
pub(crate) fn stripe(stripes: usize) -> usize {
    crate::stripe::ordinal() & (stripes - 1)
}

/// Under loom every thread shares stripe 0: the case where writers do collide.
#[cfg(bulwark_loom)]
#[inline]
pub(crate) fn stripe(_stripes: usize) -> usize {
    0
}

/// A counter split over stripes (like Java's `LongAdder`): adding writes the caller's stripe only;
/// reading sums them all.
#[derive(Debug)]
pub(crate) struct StripedCounter {
    cells: Box<[Padded<AtomicU64>]>,
}

impl StripedCounter {
    pub(crate) fn new(stripes: usize) -> Self {
        Self {
            cells: (0..stripes).map(|_| Padded(AtomicU64::new(0))).collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        if let Some(cell) = self.cells.get(stripe(self.cells.len())) {
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn sum(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |acc, c| acc.wrapping_add(c.load(Ordering::Relaxed)))
    }
}
