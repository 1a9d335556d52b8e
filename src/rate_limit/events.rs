//! What a rate limiter reports: its [`Metrics`] snapshot and its [`Event`]s.

use crate::Name;
use crate::event::PatternEvent;
use std::time::Duration;

/// A snapshot of a [`RateLimiter`](super::RateLimiter), from
/// [`RateLimiter::metrics`](super::RateLimiter::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Calls admitted since the limiter was built, at once or after a wait.
    pub admitted: u64,
    /// Calls turned away since the limiter was built.
    pub rejected: u64,
    /// Of the admitted calls, those that waited for their turn first.
    pub waited: u64,
    /// Calls dropped while they waited for their turn (never admitted).
    pub cancelled: u64,
    /// Decisions the limit's store (Redis) did not answer in time, left to its
    /// [`OnUnavailable`](super::OnUnavailable) policy (always 0 for a local limiter).
    pub unavailable: u64,
    /// The interval between two cells at the steady rate: the period divided by the number of
    /// calls, rounded up to a whole nanosecond.
    pub interval: Duration,
    /// How many calls may be admitted at once after an idle period.
    pub burst: u64,
    /// How long a call may wait for its turn (zero: it is turned away at once).
    pub max_wait: Duration,
}

/// Something that happened in a rate limiter.
///
/// Every variant carries the limiter's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call was over the limit and turned away.
    Rejected {
        /// The limiter's name.
        name: Name,
        /// How long until a call would be admitted at once.
        retry_after: Duration,
    },
    /// A call waited for its turn and was admitted.
    Waited {
        /// The limiter's name.
        name: Name,
        /// How long it waited.
        waited: Duration,
    },
    /// The limit's store (Redis) did not answer in time or failed; `policy` decided the call.
    #[cfg(feature = "redis")]
    StoreUnavailable {
        /// The limiter's name.
        name: Name,
        /// What went wrong.
        error: String,
        /// The policy that decided the call.
        policy: super::OnUnavailable,
    },
}

impl Event {
    /// The name of the limiter the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Rejected { name, .. } | Event::Waited { name, .. } => name,
            #[cfg(feature = "redis")]
            Event::StoreUnavailable { name, .. } => name,
        }
    }
}

/// The metric handles of one rate limiter (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    rejections: metrics::Counter,
    waits: metrics::Counter,
    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "registered all the same: a local limiter shows 0")
    )]
    store_unavailable: metrics::Counter,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::rate_limit";
        match self {
            Event::Rejected { name, retry_after } => tracing::debug!(
                target: T,
                name = name.as_str(),
                retry_after_s = retry_after.as_secs_f64(),
                "rejected"
            ),
            Event::Waited { name, waited } => tracing::trace!(
                target: T,
                name = name.as_str(),
                waited_s = waited.as_secs_f64(),
                "waited"
            ),
            #[cfg(feature = "redis")]
            Event::StoreUnavailable {
                name,
                error,
                policy,
            } => tracing::warn!(
                target: T,
                name = name.as_str(),
                error = error.as_str(),
                policy = policy.as_str(),
                "store unavailable"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::counter;
        Instruments {
            rejections: counter(
                "bulwark.rate_limit.rejections",
                "Calls over the limit, turned away",
                name,
                &[],
            ),
            waits: counter(
                "bulwark.rate_limit.waits",
                "Calls that waited for their turn, then were admitted",
                name,
                &[],
            ),
            store_unavailable: counter(
                "bulwark.rate_limit.store_unavailable",
                "Decisions the limit's store did not answer, left to its policy",
                name,
                &[],
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Rejected { .. } => i.rejections.increment(1),
            Event::Waited { .. } => i.waits.increment(1),
            #[cfg(feature = "redis")]
            Event::StoreUnavailable { .. } => i.store_unavailable.increment(1),
        }
    }
}
