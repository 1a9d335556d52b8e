//! What a fallback reports: why it was used ([`Reason`]), its [`Metrics`] and its [`Event`]s.

use crate::Name;
use crate::event::PatternEvent;

/// The outcome a fallback replaced, passed to the fallback's closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A circuit breaker rejected the call (`circuit_breaker::CircuitOpen`).
    CircuitOpen,
    /// The call, or an attempt of it, timed out (`timeout::Elapsed`).
    Timeout,
    /// A bulkhead turned the call away (`bulkhead::BulkheadFull`).
    BulkheadFull,
    /// A rate limiter turned the call away (`rate_limit::RateLimited`).
    RateLimited,
    /// The call's own outcome, which the fallback's classifier called a failure.
    Classified,
}

impl Reason {
    /// Every reason, in the order of their `index`.
    pub(crate) const ALL: [Reason; 5] = [
        Reason::CircuitOpen,
        Reason::Timeout,
        Reason::BulkheadFull,
        Reason::RateLimited,
        Reason::Classified,
    ];

    /// A short snake-case name, as in `tracing` fields and metric labels: `"circuit_open"`,
    /// `"timeout"`, `"bulkhead_full"`, `"rate_limited"`, `"classified"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::CircuitOpen => "circuit_open",
            Reason::Timeout => "timeout",
            Reason::BulkheadFull => "bulkhead_full",
            Reason::RateLimited => "rate_limited",
            Reason::Classified => "classified",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Reason::CircuitOpen => 0,
            Reason::Timeout => 1,
            Reason::BulkheadFull => 2,
            Reason::RateLimited => 3,
            Reason::Classified => 4,
        }
    }
}

/// A snapshot of a [`Fallback`](super::Fallback), from
/// [`Fallback::metrics`](super::Fallback::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Outcomes replaced by the fallback, by reason, in the order of the [`Reason`] variants
    /// (circuit open, timeout, bulkhead full, rate limited, classified).
    pub used: [u64; 5],
    /// Times the fallback's closure (or its classifier) panicked: the original outcome was
    /// returned.
    pub panics: u64,
}

impl Metrics {
    /// Outcomes replaced for `reason`.
    pub fn used_for(&self, reason: Reason) -> u64 {
        self.used[reason.index()]
    }

    /// Outcomes replaced, for every reason.
    pub fn used_total(&self) -> u64 {
        self.used.iter().sum()
    }
}

/// Something that happened in a fallback.
///
/// Every variant carries the fallback's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The fallback replaced an outcome.
    Used {
        /// The fallback's name.
        name: Name,
        /// Which outcome it replaced.
        reason: Reason,
    },
    /// The fallback's closure, or its classifier, panicked; the original outcome was returned.
    Panicked {
        /// The fallback's name.
        name: Name,
        /// The outcome it was replacing (`Classified` when the classifier panicked).
        reason: Reason,
    },
}

impl Event {
    /// The name of the fallback the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Used { name, .. } | Event::Panicked { name, .. } => name,
        }
    }
}

/// The metric handles of one fallback (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    used: [metrics::Counter; 5],
    panics: metrics::Counter,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::fallback";
        match self {
            Event::Used { name, reason } => tracing::debug!(
                target: T,
                name = name.as_str(),
                reason = reason.as_str(),
                "fallback used"
            ),
            Event::Panicked { name, reason } => tracing::error!(
                target: T,
                name = name.as_str(),
                reason = reason.as_str(),
                "fallback panicked; the original outcome was returned"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::counter;
        Instruments {
            used: Reason::ALL.map(|reason| {
                counter(
                    "bulwark.fallback.used",
                    "Outcomes replaced by a fallback, by the outcome replaced",
                    name,
                    &[("reason", reason.as_str())],
                )
            }),
            panics: counter(
                "bulwark.fallback.panics",
                "Fallbacks (or their classifiers) that panicked; the original outcome was returned",
                name,
                &[],
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Used { reason, .. } => i.used[reason.index()].increment(1),
            Event::Panicked { .. } => i.panics.increment(1),
        }
    }
}
