//! The time-based sliding window: the calls of the last `duration`, in [`BUCKETS`] buckets.
//!
//! Each stripe has its own row of buckets, so a call writes only its own thread's cache line.
//! A bucket counter is one word, `epoch | count`, where the epoch numbers the bucket's time slice
//! since the breaker was built: a recorder that finds an older epoch starts the bucket afresh,
//! one that finds a newer epoch (it was delayed by a whole window) drops its call. Reading sums
//! the buckets of the last [`BUCKETS`] epochs over all stripes. Memory is fixed: it does not grow
//! with throughput.
//!
//! The epoch field is as wide as the slices of 584 years (the most nanoseconds a `u64` holds)
//! need, so an epoch is never confused with another however long the breaker sits idle. The
//! count keeps the remaining bits, which hold at least half a bucket's nanoseconds: more calls
//! than one per two nanoseconds per thread would be needed to fill it (it saturates, never wraps).

use super::sync::{AtomicU64, Ordering, Padded, stripe};
use super::window::{Counts, FAILURE, OCCUPIED, SLOW};
use std::time::Duration;

/// Buckets per window: a call leaves the window between 9/10 and 10/10 of the window duration
/// after it was recorded.
pub(crate) const BUCKETS: usize = 10;

/// One stripe's row: for each bucket, calls, failures and slow calls.
#[derive(Debug)]
struct Row {
    cells: [[AtomicU64; 3]; BUCKETS],
}

#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    /// The count's share of a bucket word; the epoch has the bits above it.
    count_bits: u32,
    rows: Box<[Padded<Row>]>,
}

impl TimeWindow {
    /// `duration` is validated by the builder (at least `BUCKETS` milliseconds).
    pub(crate) fn new(duration: Duration, stripes: usize) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket_nanos = (nanos / BUCKETS as u64).max(1);
        // The largest epoch `epoch()` can return, and the bits it takes.
        let last_epoch = (u64::MAX / bucket_nanos).saturating_add(1);
        Self {
            bucket_nanos,
            count_bits: last_epoch.leading_zeros(),
            rows: (0..stripes)
                .map(|_| {
                    Padded(Row {
                        cells: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
                    })
                })
                .collect(),
        }
    }

    /// The epoch of a moment `nanos` after the breaker was built; epochs start at 1 so that a
    /// zeroed cell is never current.
    fn epoch(&self, nanos: u64) -> u64 {
        (nanos / self.bucket_nanos).saturating_add(1)
    }

    fn count_mask(&self) -> u64 {
        (1 << self.count_bits) - 1
    }

    /// Records one call with `flags` at `nanos` after the breaker was built, and returns the
    /// window's totals when the call was a failure or slow (the only calls that can trip it).
    #[inline]
    pub(crate) fn record(&self, nanos: u64, flags: u8) -> Option<Counts> {
        let epoch = self.epoch(nanos);
        let row = self.rows.get(stripe(self.rows.len()))?;
        let bucket = row.cells.get((epoch % BUCKETS as u64) as usize)?;
        for (i, bit) in [OCCUPIED, FAILURE, SLOW].into_iter().enumerate() {
            if flags & bit != 0
                && let Some(cell) = bucket.get(i)
            {
                add(cell, epoch, self.count_bits);
            }
        }
        // A failure or a slow call: any flag beside OCCUPIED.
        (flags & !OCCUPIED != 0).then(|| self.counts(nanos))
    }

    /// The totals of the window ending at `nanos`.
    pub(crate) fn counts(&self, nanos: u64) -> Counts {
        let now = self.epoch(nanos);
        let mask = self.count_mask();
        let mut sums = [0u64; 3];
        for row in self.rows.iter() {
            for bucket in &row.cells {
                for (sum, cell) in sums.iter_mut().zip(bucket) {
                    let word = cell.load(Ordering::Relaxed);
                    let epoch = word >> self.count_bits;
                    // Epoch 0 is a cleared cell; a later epoch was written after `nanos`.
                    if epoch != 0 && epoch <= now && now - epoch < BUCKETS as u64 {
                        *sum = sum.saturating_add(word & mask);
                    }
                }
            }
        }
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Counts {
            calls: clamp(sums[0]),
            failures: clamp(sums[1]),
            slow: clamp(sums[2]),
        }
    }

    /// Empties the window. A call recorded concurrently with the reset may land in the new
    /// window; counts are only ever added, so that cannot corrupt them.
    pub(crate) fn reset(&self) {
        for row in self.rows.iter() {
            for bucket in &row.cells {
                for cell in bucket {
                    cell.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Adds one to a bucket counter of `epoch`, whose count has the low `count_bits` bits.
#[inline]
fn add(cell: &AtomicU64, epoch: u64, count_bits: u32) {
    let count_mask = (1u64 << count_bits) - 1;
    let mut word = cell.load(Ordering::Relaxed);
    loop {
        let next = match (word >> count_bits).cmp(&epoch) {
            std::cmp::Ordering::Equal if word & count_mask == count_mask => return, // saturated
            std::cmp::Ordering::Equal => word + 1,
            std::cmp::Ordering::Less => (epoch << count_bits) + 1,
            // The cell belongs to a later slice: this call was delayed, drop it.
            std::cmp::Ordering::Greater => return,
        };
        match cell.compare_exchange_weak(word, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => word = actual,
        }
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::*;

    /// A bucket's count saturates at its largest value: it never carries into the epoch above
    /// it (which would move the calls to a later slice and out of the window).
    #[test]
    fn a_full_bucket_count_saturates() {
        let w = TimeWindow::new(Duration::from_millis(10), 1);
        let full = w.count_mask();
        assert_eq!(
            full,
            (1 << 19) - 1,
            "1 ms buckets leave 19 bits to the count"
        );
        for _ in 0..full + 3 {
            w.record(500, OCCUPIED | FAILURE);
        }
        let counts = w.counts(500);
        assert_eq!(u64::from(counts.calls), full);
        assert_eq!(u64::from(counts.failures), full);
        assert_eq!(counts.slow, 0);
        // The next slice starts afresh beside the full one.
        w.record(1_000_000, OCCUPIED);
        assert_eq!(u64::from(w.counts(1_000_000).calls), full + 1);
    }
}
