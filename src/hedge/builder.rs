//! The builder of a [`Hedge`].

use super::histogram::Histogram;
use super::state::{Delay, Shared};
use super::{Event, Hedge};
use crate::ConfigError;
use crate::Name;
use crate::event::Listeners;
use crate::retry::RetryBudget;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The most extra attempts a call may send.
const MAX_HEDGED: u32 = 16;

/// How the builder was told to choose the delay.
#[derive(Clone, Copy, Debug)]
enum DelayKind {
    Fixed(Duration),
    Percentile {
        percentile: f64,
        window: Duration,
        min_samples: u64,
    },
}

/// Builds a [`Hedge`]; made by [`Hedge::builder`].
///
/// Defaults: a fixed delay of 100 ms, one extra attempt per call, and a budget of 10 % of the
/// calls plus 1 hedge per second over a 10 s window (a [`RetryBudget`] with `ratio(0.1)`,
/// `min_per_second(1)`).
#[must_use]
pub struct Builder {
    delay: DelayKind,
    max_hedged_attempts: u32,
    budget: Budget,
    listeners: Listeners<Event>,
}

enum Budget {
    Default,
    Given(RetryBudget),
    None,
}

impl Builder {
    pub(super) fn new() -> Self {
        Self {
            delay: DelayKind::Fixed(Duration::from_millis(100)),
            max_hedged_attempts: 1,
            budget: Budget::Default,
            listeners: Listeners::new(&"hedge"),
        }
    }

    /// Sends the next attempt when the previous one has not answered after `delay` (more than
    /// zero). Replaces a [`latency_percentile`](Self::latency_percentile).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = DelayKind::Fixed(delay);
        self
    }

    /// Sends the next attempt when the previous one has taken longer than `percentile` (above 0,
    /// at most 1: `0.95` for p95) of the attempts that answered in the last full `window` (at
    /// least 1 ms). Replaces a fixed [`delay`](Self::delay).
    ///
    /// The delay is computed once per window, when it ends, from that window's latencies (the
    /// latency of each attempt that succeeded, from when it was sent), rounded up to its
    /// histogram bucket (at most 12.5 % above). While the last full window holds fewer than
    /// [`min_samples`](Self::min_samples) latencies (at first, and after a quiet window) no call
    /// is hedged. Windows count from when the hedge was built, on tokio's clock. With calls on
    /// several threads, a latency recorded while a window is being rotated may be counted in
    /// the next window instead, or lost: the percentile is of nearly every latency, not of
    /// exactly every one.
    pub fn latency_percentile(mut self, percentile: f64, window: Duration) -> Self {
        let min_samples = match self.delay {
            DelayKind::Percentile { min_samples, .. } => min_samples,
            DelayKind::Fixed(_) => 20,
        };
        self.delay = DelayKind::Percentile {
            percentile,
            window,
            min_samples,
        };
        self
    }

    /// How many latencies the last full window must hold for a percentile delay (20 unless set;
    /// at least 1). Ignored with a fixed delay.
    pub fn min_samples(mut self, n: u64) -> Self {
        if let DelayKind::Percentile { min_samples, .. } = &mut self.delay {
            *min_samples = n;
        }
        self
    }

    /// How many extra attempts one call may send (1 unless set; from 1 to 16). A call makes at
    /// most `1 + max_hedged_attempts` attempts.
    pub fn max_hedged_attempts(mut self, n: u32) -> Self {
        self.max_hedged_attempts = n;
        self
    }

    /// Caps hedges with `budget`: every call deposits, every extra attempt withdraws, so hedges
    /// are at most the budget's `ratio` of the calls in its window plus its floor. See
    /// [`RetryBudget`] for the window and the arithmetic.
    ///
    /// A budget may be shared by several hedges, or by a hedge and a retry, to cap the extra
    /// load they add together (gRPC does this with its retry throttling). Each of them counts
    /// the calls it sees as requests, so a retry and a hedge around the same calls count each
    /// call twice: give each its own budget unless that is what you want.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Budget::Given(budget);
        self
    }

    /// No budget: every call may send `max_hedged_attempts` extra attempts, however many calls
    /// are slow. Under an overload that slows every call, this multiplies the load.
    pub fn no_budget(mut self) -> Self {
        self.budget = Budget::None;
        self
    }

    /// Names the hedge (`"search-replicas"`): the name is in its events, `tracing` fields and
    /// metric labels. Default: `"hedge"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the hedge's [`Event`]s. Listeners run on the task that polls the
    /// call, with no lock held, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and builds the hedge.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field, when the delay is zero, the percentile is not above 0
    /// and at most 1, the window is under 1 ms, `min_samples` is zero, or `max_hedged_attempts`
    /// is not from 1 to 16.
    pub fn build(self) -> Result<Hedge, ConfigError> {
        let error = |field, reason| Err(ConfigError::new("hedge", field, reason));
        if !(1..=MAX_HEDGED).contains(&self.max_hedged_attempts) {
            return error("max_hedged_attempts", "must be from 1 to 16");
        }
        let delay = match self.delay {
            DelayKind::Fixed(d) if d.is_zero() => {
                return error("delay", "must be more than zero");
            }
            DelayKind::Fixed(d) => Delay::Fixed(d),
            DelayKind::Percentile {
                percentile,
                window,
                min_samples,
            } => {
                if !(percentile > 0.0 && percentile <= 1.0) {
                    return error(
                        "latency_percentile",
                        "the percentile must be above 0 and at most 1 (0.95 for p95)",
                    );
                }
                if window < Duration::from_millis(1) {
                    return error("latency_percentile", "the window must be at least 1 ms");
                }
                if min_samples == 0 {
                    return error("min_samples", "must be at least 1");
                }
                Delay::Percentile(Box::new(Histogram::new(window, percentile, min_samples)))
            }
        };
        let budget = match self.budget {
            Budget::Default => Some(
                RetryBudget::builder()
                    .ratio(0.1)
                    .min_per_second(1)
                    .build()?,
            ),
            Budget::Given(b) => Some(b),
            Budget::None => None,
        };
        let shared = Shared::new(
            delay,
            self.max_hedged_attempts + 1,
            budget,
            self.listeners.finish(),
        );
        Ok(Hedge {
            shared: Arc::new(shared),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("delay", &self.delay)
            .field("max_hedged_attempts", &self.max_hedged_attempts)
            .field(
                "budget",
                &match &self.budget {
                    Budget::Default => "default",
                    Budget::Given(_) => "given",
                    Budget::None => "none",
                },
            )
            .field("listeners", &self.listeners)
            .finish()
    }
}
