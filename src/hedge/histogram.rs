//! The latency histogram behind a percentile delay: bounded, lock-free to record, rotated once
//! per window.
//!
//! Latencies are counted in microseconds in log-linear buckets (8 per power of two, so a bucket
//! is at most 12.5 % wide; 1 µs to about 19 hours, longer latencies in the last bucket): 272
//! counters per window, two windows. Recording is one atomic add. The delay is computed once per
//! window, when the window is rotated (by the first call that sees the window has passed), from
//! the window that just ended, and kept in one atomic word: reading it is one atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Sub-buckets per power of two, as a shift: 2^3 = 8.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets: values below 8 µs exactly, then 8 per power of two up to 2^36 µs.
pub(super) const BUCKETS: usize = (SUB as usize) * 34;
/// No delay known (too few latencies in the last window).
const NONE: u64 = u64::MAX;

/// The bucket of a latency of `micros`.
pub(super) fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros(); // >= SUB_BITS
    let sub = (micros >> (exp - SUB_BITS)) & (SUB - 1);
    let index = (u64::from(exp - SUB_BITS + 1) << SUB_BITS) + sub;
    (index as usize).min(BUCKETS - 1)
}

/// The largest latency (in µs) bucket `index` holds: the delay a percentile in it reads as, so
/// a hedge is never sent before the latency the percentile names.
pub(super) fn upper(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let exp = (index >> SUB_BITS) + u64::from(SUB_BITS) - 1;
    let sub = index & (SUB - 1);
    let width = 1u64 << (exp - u64::from(SUB_BITS));
    ((SUB + sub) << (exp - u64::from(SUB_BITS))) + width - 1
}

struct Window {
    counts: [AtomicU64; BUCKETS],
}

impl Window {
    fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn clear(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The `percentile` (0 < p <= 1) of this window's latencies in µs, if it holds at least
    /// `min` of them.
    fn percentile(&self, percentile: f64, min: u64) -> Option<u64> {
        let counts: [u64; BUCKETS] =
            std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        let total: u64 = counts.iter().sum();
        if total == 0 || total < min {
            return None;
        }
        // The smallest latency that at least `percentile` of the calls did not exceed.
        let rank = ((percentile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(upper(i));
            }
        }
        None
    }
}

/// Two windows of latencies: the one being recorded and the one before it.
pub(super) struct Histogram {
    start: Instant,
    window_nanos: u64,
    percentile: f64,
    min_samples: u64,
    /// The window (time since `start` in windows) being recorded.
    epoch: AtomicU64,
    /// The delay from the last full window, in nanoseconds, or `NONE`.
    delay: AtomicU64,
    rotate: Mutex<()>,
    windows: [Window; 2],
}

impl Histogram {
    pub(super) fn new(window: Duration, percentile: f64, min_samples: u64) -> Self {
        Self {
            start: Instant::now(),
            window_nanos: u64::try_from(window.as_nanos()).unwrap_or(u64::MAX).max(1),
            percentile,
            min_samples,
            epoch: AtomicU64::new(0),
            delay: AtomicU64::new(NONE),
            rotate: Mutex::new(()),
            windows: [Window::new(), Window::new()],
        }
    }

    /// Brings the windows up to `now` and returns the current epoch.
    fn advance(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.start).as_nanos();
        let epoch = u64::try_from(since).unwrap_or(u64::MAX) / self.window_nanos;
        let current = self.epoch.load(Ordering::Acquire);
        if epoch <= current {
            return current;
        }
        let _guard = self.rotate.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.epoch.load(Ordering::Acquire);
        if epoch > current {
            let delay = if epoch == current + 1 {
                // The window that just ended decides the delay for the next one.
                self.windows[(current % 2) as usize].percentile(self.percentile, self.min_samples)
            } else {
                // A whole window passed with nothing recorded: nothing is known.
                self.windows[(current % 2) as usize].clear();
                None
            };
            let nanos = delay.map_or(NONE, |micros| micros.saturating_mul(1_000).min(NONE - 1));
            self.delay.store(nanos, Ordering::Release);
            self.windows[(epoch % 2) as usize].clear();
            self.epoch.store(epoch, Ordering::Release);
        }
        epoch.max(current)
    }

    /// Records one attempt's latency.
    pub(super) fn record(&self, now: Instant, latency: Duration) {
        let epoch = self.advance(now);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.windows[(epoch % 2) as usize].counts[bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The delay before a hedge: the percentile of the last full window, if it held enough
    /// latencies.
    pub(super) fn delay(&self, now: Instant) -> Option<Duration> {
        self.advance(now);
        match self.delay.load(Ordering::Acquire) {
            NONE => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// The delay as of the last rotation, without moving the windows (for a snapshot).
    pub(super) fn current(&self) -> Option<Duration> {
        match self.delay.load(Ordering::Acquire) {
            NONE => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_is_in_a_bucket_no_wider_than_an_eighth() {
        let mut v = 0u64;
        while v < (1 << 36) {
            let b = bucket(v);
            assert!(upper(b) >= v, "{v} above its bucket {b}");
            if b > 0 {
                assert!(upper(b - 1) < v, "{v} also fits the bucket below");
            }
            assert!(upper(b) - v <= v / 8, "{v}: bucket {b} up to {}", upper(b));
            v = v * 9 / 8 + 1;
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn latencies_recorded_on_many_threads_are_all_counted_while_no_window_ends() {
        let h = Histogram::new(Duration::from_secs(3_600), 0.5, 1);
        let now = h.start;
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let h = &h;
                s.spawn(move || {
                    for i in 0..10_000u64 {
                        h.record(now, Duration::from_micros(1 + (i + t) % 100));
                    }
                });
            }
        });
        let counts: u64 = h.windows[0]
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        assert_eq!(counts, 40_000);
        // Latencies 1..=100 µs, evenly: the median is 50 µs (its bucket is 48..=51).
        assert_eq!(h.windows[0].percentile(0.5, 1), Some(51));
    }

    #[test]
    fn threads_that_see_a_window_end_at_once_rotate_it_once() {
        let window = Duration::from_millis(1);
        let h = Histogram::new(window, 0.5, 1);
        let latency = Duration::from_micros(100);
        h.record(h.start, latency);
        let arrived = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            // The rotation lock is held (as by a thread rotating) while eight threads reach the
            // next window: each sees the old one, and waits for the lock.
            let rotating = h.rotate.lock().unwrap();
            for _ in 0..8 {
                s.spawn(|| {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    h.record(h.start + window, latency);
                });
            }
            while arrived.load(Ordering::SeqCst) < 8 {
                std::thread::yield_now();
            }
            drop(rotating);
        });
        // The first to take the lock rotated; the others found it rotated and only recorded.
        let counts: u64 = h.windows[1]
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        assert_eq!(counts, 8);
        let delay = Duration::from_micros(upper(bucket(100)));
        assert_eq!(h.current(), Some(delay));
    }

    proptest::proptest! {
        /// The model: the latencies sorted, the percentile the smallest of them that at least
        /// that share of them does not exceed. The histogram reads it at most an eighth above,
        /// never below.
        #[test]
        fn the_percentile_is_the_models_rounded_up_by_at_most_an_eighth(
            mut latencies in proptest::collection::vec(0u64..10_000_000, 1..400),
            percentile in 0.01f64..=1.0,
            min in 1u64..50,
        ) {
            let window = Window::new();
            for &l in &latencies {
                window.counts[bucket(l)].fetch_add(1, Ordering::Relaxed);
            }
            let got = window.percentile(percentile, min);
            if (latencies.len() as u64) < min {
                proptest::prop_assert_eq!(got, None);
                return Ok(());
            }
            latencies.sort_unstable();
            let rank = ((percentile * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            let want = latencies[rank - 1];
            let got = got.expect("enough latencies");
            proptest::prop_assert!(got >= want && got - want <= want / 8, "{} for {}", got, want);
        }
    }
}
