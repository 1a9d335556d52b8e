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

/// Aligns its content to its own pair of cache lines, so that writes to one `Padded` never
/// invalidate the line of another (adjacent-line prefetch makes 128 bytes the safe figure).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// How many stripes a breaker's striped counters have: a power of two, twice the available
/// parallelism, between 2 and 64.
#[cfg(not(bulwark_loom))]
pub(crate) fn stripe_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, usize::from);
    (cpus * 2).next_power_of_two().clamp(2, 64)
}

/// Under loom, two stripes keep the model small (and every thread writes stripe 0).
#[cfg(bulwark_loom)]
pub(crate) fn stripe_count() -> usize {
    2
}

/// The stripe the current thread writes to, below `stripes` (a power of two).
///
/// Threads are numbered in the order they first touch any breaker, so the worker threads of a
/// runtime land on distinct stripes until there are more threads than stripes.
#[cfg(not(bulwark_loom))]
#[inline]
pub(crate) fn stripe(stripes: usize) -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static ORDINAL: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ORDINAL.with(|n| *n) & (stripes - 1)
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
