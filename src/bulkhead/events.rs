//! What a bulkhead reports: its [`Metrics`] snapshot and its [`Event`]s.

use super::FullReason;
use crate::event::PatternEvent;
use std::time::Duration;

/// A snapshot of a [`Bulkhead`](super::Bulkhead), from [`Bulkhead::metrics`](super::Bulkhead::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Calls holding a slot now (after `max_concurrent` was lowered, possibly more than it).
    pub in_flight: usize,
    /// Calls waiting for a slot now.
    pub queued: usize,
    /// Calls turned away because the queue was full, since the bulkhead was built.
    pub rejected_queue_full: u64,
    /// Calls turned away after waiting `max_wait`, since the bulkhead was built.
    pub rejected_timed_out: u64,
    /// The current limit on calls at once.
    pub max_concurrent: usize,
    /// The current limit on waiting calls.
    pub max_queued: usize,
    /// How long one call may wait, if bounded.
    pub max_wait: Option<Duration>,
}

/// Something that happened in a bulkhead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call took a slot.
    Admitted {
        /// How long it waited in the queue (zero if it did not wait).
        waited: Duration,
    },
    /// A call found every slot taken and joined the queue.
    Queued {
        /// Calls waiting, this one included.
        queued: usize,
    },
    /// A call was turned away.
    Rejected {
        /// Why.
        reason: FullReason,
    },
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::Admitted { waited } => tracing::trace!(
                target: "bulwark::bulkhead",
                waited_ms = waited.as_millis() as u64,
                "admitted"
            ),
            Event::Queued { queued } => {
                tracing::debug!(target: "bulwark::bulkhead", queued, "queued")
            }
            Event::Rejected { reason } => match reason {
                FullReason::QueueFull => {
                    tracing::warn!(target: "bulwark::bulkhead", reason = "queue full", "rejected")
                }
                FullReason::TimedOut { after } => tracing::warn!(
                    target: "bulwark::bulkhead",
                    reason = "timed out",
                    after_ms = after.as_millis() as u64,
                    "rejected"
                ),
            },
        }
    }
}
