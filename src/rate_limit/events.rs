//! What a rate limiter reports: its [`Metrics`] snapshot and its [`Event`]s.

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
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call was over the limit and turned away.
    Rejected {
        /// How long until a call would be admitted at once.
        retry_after: Duration,
    },
    /// A call waited for its turn and was admitted.
    Waited {
        /// How long it waited.
        waited: Duration,
    },
    /// The limit's store (Redis) did not answer in time or failed; `policy` decided the call.
    #[cfg(feature = "redis")]
    StoreUnavailable {
        /// What went wrong.
        error: String,
        /// The policy that decided the call.
        policy: super::OnUnavailable,
    },
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::Rejected { retry_after } => tracing::debug!(
                target: "bulwark::rate_limit",
                retry_after_ms = retry_after.as_millis() as u64,
                "rejected"
            ),
            Event::Waited { waited } => tracing::trace!(
                target: "bulwark::rate_limit",
                waited_ms = waited.as_millis() as u64,
                "waited"
            ),
            #[cfg(feature = "redis")]
            Event::StoreUnavailable { error, policy } => tracing::warn!(
                target: "bulwark::rate_limit",
                error = error.as_str(),
                policy = ?policy,
                "store unavailable"
            ),
        }
    }
}
