//! What a timeout reports to its listeners.

use crate::event::PatternEvent;
use std::time::Duration;

/// Something that happened in a timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call, or a wait for readiness, ran out of time.
    TimedOut {
        /// The timeout that ran out.
        after: Duration,
        /// Whether it was the wait for the inner service's readiness that ran out.
        waiting_for_readiness: bool,
    },
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::TimedOut {
                after,
                waiting_for_readiness,
            } => tracing::warn!(
                target: "bulwark::timeout",
                after_ms = after.as_millis() as u64,
                waiting_for_readiness,
                "timed out"
            ),
        }
    }
}
