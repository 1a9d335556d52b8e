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
    // A constant initializer and no destructor: reading it is one load, with no lazy
    // initialization state to check (an unnumbered thread reads `UNSET`).
    thread_local! {
        static ORDINAL: std::cell::Cell<usize> = const { std::cell::Cell::new(UNSET) };
    }
    const UNSET: usize = usize::MAX;
    #[cold]
    fn number(cell: &std::cell::Cell<usize>) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        // Never `UNSET`, even after `usize::MAX` threads.
        let n = NEXT.fetch_add(1, Ordering::Relaxed) & (UNSET >> 1);
        cell.set(n);
        n
    }
    ORDINAL.with(|cell| match cell.get() {
        UNSET => number(cell),
        n => n,
    })
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

/// A reference counted in one stripe of threads: a clone of the shared value, alone on its cache
/// lines with its count.
pub(crate) type Lane<T> = std::sync::Arc<Padded<T>>;

/// References to one shared value (itself a handle, such as an `Arc`), one per stripe of
/// threads, each made the first time a thread of its stripe asks for it: a call that keeps a
/// reference for its whole length counts itself in its own thread's lane, so calls on different
/// cores do not write one reference count. A value used on one thread makes one lane.
#[cfg(any(feature = "circuit-breaker", feature = "retry"))]
pub(crate) struct Lanes<T> {
    value: T,
    lanes: Box<[std::sync::OnceLock<Lane<T>>]>,
}

#[cfg(any(feature = "circuit-breaker", feature = "retry"))]
impl<T: Clone> Lanes<T> {
    /// Up to `lanes` lanes (rounded up to a power of two) over `value`; none made yet.
    pub(crate) fn new(value: T, lanes: usize) -> Self {
        Self {
            value,
            lanes: (0..lanes.max(1).next_power_of_two())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        }
    }

    /// The shared value.
    #[inline]
    pub(crate) fn value(&self) -> &T {
        &self.value
    }

    /// The lane of the current thread's stripe.
    #[inline]
    pub(crate) fn home(&self) -> &Lane<T> {
        let lane = &self.lanes[ordinal() & (self.lanes.len() - 1)];
        match lane.get() {
            Some(made) => made,
            None => self.make(lane),
        }
    }

    #[cold]
    fn make<'a>(&self, lane: &'a std::sync::OnceLock<Lane<T>>) -> &'a Lane<T> {
        lane.get_or_init(|| std::sync::Arc::new(Padded(self.value.clone())))
    }

    /// How many lanes there may be, and how many are made.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let made = self.lanes.iter().filter(|l| l.get().is_some()).count();
        (self.lanes.len(), made)
    }
}

#[cfg(any(feature = "circuit-breaker", feature = "retry"))]
impl<T: std::fmt::Debug> std::fmt::Debug for Lanes<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

#[cfg(all(
    test,
    not(bulwark_loom),
    any(feature = "circuit-breaker", feature = "retry")
))]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A lane is made the first time a thread of its stripe needs it, and is that thread's from
    /// then on; a call counts its reference in its thread's lane only.
    #[test]
    fn a_thread_makes_its_lane_once_and_counts_its_references_there() {
        let shared = Arc::new(7);
        let lanes = Lanes::new(Arc::clone(&shared), 3);
        assert_eq!(
            lanes.counts(),
            (4, 0),
            "rounded up to a power of two, none made"
        );
        let mine = Arc::clone(lanes.home());
        assert!(Arc::ptr_eq(&mine, lanes.home()));
        assert_eq!(lanes.counts(), (4, 1));
        assert_eq!(Arc::strong_count(&mine), 2, "the lane and this reference");
        assert_eq!(
            Arc::strong_count(&shared),
            3,
            "the caller, the lanes' value, one lane"
        );
        assert_eq!(*mine.0, 7);
        drop(mine);
        let theirs = std::thread::scope(|s| {
            s.spawn(|| Arc::as_ptr(lanes.home()) as usize)
                .join()
                .unwrap()
        });
        let ours = Arc::as_ptr(lanes.home()) as usize;
        let made = if theirs == ours { 1 } else { 2 };
        assert_eq!(
            lanes.counts(),
            (4, made),
            "another thread: its own lane, or ours"
        );
        assert_eq!(Lanes::new((), 0).counts(), (1, 0));
    }
}
