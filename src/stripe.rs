//! Striping: keeping the per-call writes of threads on different cores off each other's cache
//! lines. Each thread gets an ordinal when it first asks, so the worker threads of a runtime land
//! on distinct stripes until there are more threads than stripes.

/// Aligns its content to its own pair of cache lines, so that writes to one `Padded` never
/// invalidate the line of another (adjacent-line prefetch makes 128 bytes the safe figure).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// How many stripes a striped structure has: a power of two, twice the available parallelism,
/// between 2 and 64.
#[cfg(not(bulwark_loom))]
pub(crate) fn stripe_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, usize::from);
    (cpus * 2).next_power_of_two().clamp(2, 64)
}

/// Under loom, two stripes keep the model small.
#[cfg(bulwark_loom)]
pub(crate) fn stripe_count() -> usize {
    2
}

/// The current thread's ordinal: threads are numbered in the order they first ask. A striped
/// structure of `n` stripes (a power of two) uses `ordinal() & (n - 1)`.
#[cfg(not(bulwark_loom))]
#[inline]
pub(crate) fn ordinal() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static ORDINAL: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ORDINAL.with(|n| *n)
}

/// Under loom, the model's threads are numbered too (afresh in every execution), so that a model
/// of two threads puts them on distinct stripes.
#[cfg(bulwark_loom)]
pub(crate) fn ordinal() -> usize {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static ORDINAL: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ORDINAL.with(|n| *n)
}
