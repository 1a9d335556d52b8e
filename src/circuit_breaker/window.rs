//! The sliding window of recorded calls, count-based or time-based.

use super::count_window::CountWindow;
use super::time_window::TimeWindow;

/// The call's slot is in use (every recorded call sets it).
pub(crate) const OCCUPIED: u8 = 1;
/// The call failed.
pub(crate) const FAILURE: u8 = 2;
/// The call was slow.
pub(crate) const SLOW: u8 = 4;

/// Totals of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl Counts {
    pub(crate) fn failure_rate(&self) -> f64 {
        rate(self.failures, self.calls)
    }

    pub(crate) fn slow_rate(&self) -> f64 {
        rate(self.slow, self.calls)
    }
}

fn rate(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (f64::from(part) / f64::from(whole)).min(1.0)
    }
}

/// One per breaker, inside its `Arc`: the count window's padded counters make the variants unequal
/// in size, which costs nothing here.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// Records a call of the closed period `generation`, ending `nanos` after the breaker was
    /// built. Returns the totals when the call was a failure or slow: the only calls after which
    /// the trip rules are checked.
    #[inline]
    pub(crate) fn record(
        &self,
        generation: u32,
        nanos: impl FnOnce() -> u64,
        flags: u8,
    ) -> Option<Counts> {
        match self {
            Window::Count(w) => {
                w.record(generation, flags);
                // A failure or a slow call: any flag beside OCCUPIED.
                (flags & !OCCUPIED != 0).then(|| w.counts(generation))
            }
            Window::Time(w) => w.record(nanos(), flags),
        }
    }

    /// Whether recording a success (not slow) of `generation` would write nothing and return no
    /// totals: true only for a count window that skips it (see [`CountWindow::skips`]).
    #[inline]
    pub(crate) fn skips_success(&self, generation: u32) -> bool {
        match self {
            Window::Count(w) => w.skips(generation, OCCUPIED),
            Window::Time(_) => false,
        }
    }

    pub(crate) fn counts(&self, generation: u32, nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.counts(generation),
            Window::Time(w) => w.counts(nanos),
        }
    }

    pub(crate) fn reset(&self, generation: u32) {
        match self {
            Window::Count(w) => w.reset(generation),
            Window::Time(w) => w.reset(),
        }
    }
}
