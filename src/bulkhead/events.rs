//! What a bulkhead reports: its [`Metrics`] snapshot and its [`Event`]s.

use super::FullReason;
use crate::Name;
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
    /// With an [adaptive limit](super#adaptive-limits), the lowest and the highest
    /// `max_concurrent` may go; `None` for a fixed limit.
    pub adaptive: Option<(usize, usize)>,
}

/// Something that happened in a bulkhead.
///
/// Every variant carries the bulkhead's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call took a slot.
    Admitted {
        /// The bulkhead's name.
        name: Name,
        /// How long it waited in the queue (zero if it did not wait).
        waited: Duration,
    },
    /// A call found every slot taken and joined the queue.
    Queued {
        /// The bulkhead's name.
        name: Name,
        /// Calls waiting, this one included.
        queued: usize,
    },
    /// A call was turned away.
    Rejected {
        /// The bulkhead's name.
        name: Name,
        /// Why.
        reason: FullReason,
    },
    /// The [adaptive limit](super#adaptive-limits) moved `max_concurrent`.
    LimitChanged {
        /// The bulkhead's name.
        name: Name,
        /// The limit before.
        from: usize,
        /// The limit now.
        to: usize,
    },
}

impl Event {
    /// The name of the bulkhead the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Admitted { name, .. }
            | Event::Queued { name, .. }
            | Event::Rejected { name, .. }
            | Event::LimitChanged { name, .. } => name,
        }
    }
}

/// The metric handles of one bulkhead (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    admissions: metrics::Counter,
    rejections: [metrics::Counter; 2],
    /// Changes of an adaptive limit: down, up.
    limit_changes: [metrics::Counter; 2],
    pub(crate) in_flight: metrics::Gauge,
    pub(crate) queued: metrics::Gauge,
    pub(crate) max_concurrent: metrics::Gauge,
    pub(crate) max_queued: metrics::Gauge,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::bulkhead";
        match self {
            Event::Admitted { name, waited } => tracing::trace!(
                target: T,
                name = name.as_str(),
                waited_s = waited.as_secs_f64(),
                "admitted"
            ),
            Event::Queued { name, queued } => {
                tracing::debug!(target: T, name = name.as_str(), queued, "queued")
            }
            Event::Rejected { name, reason } => match reason {
                FullReason::QueueFull => tracing::warn!(
                    target: T,
                    name = name.as_str(),
                    reason = reason.as_str(),
                    "rejected"
                ),
                FullReason::TimedOut { after } => tracing::warn!(
                    target: T,
                    name = name.as_str(),
                    reason = reason.as_str(),
                    max_wait_s = after.as_secs_f64(),
                    "rejected"
                ),
            },
            Event::LimitChanged { name, from, to } => {
                tracing::debug!(target: T, name = name.as_str(), from, to, "limit changed")
            }
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::{counter, gauge};
        const REJ: &str = "bulwark.bulkhead.rejections";
        const REJ_HELP: &str = "Calls the bulkhead turned away, by reason";
        Instruments {
            admissions: counter(
                "bulwark.bulkhead.admissions",
                "Calls that took a slot",
                name,
                &[],
            ),
            rejections: ["queue_full", "timed_out"]
                .map(|reason| counter(REJ, REJ_HELP, name, &[("reason", reason)])),
            limit_changes: ["down", "up"].map(|direction| {
                counter(
                    "bulwark.bulkhead.limit_changes",
                    "Changes of the adaptive limit, by direction",
                    name,
                    &[("direction", direction)],
                )
            }),
            in_flight: gauge(
                "bulwark.bulkhead.in_flight",
                "Calls holding a slot now",
                name,
                &[],
            ),
            queued: gauge(
                "bulwark.bulkhead.queued",
                "Calls waiting for a slot now",
                name,
                &[],
            ),
            max_concurrent: gauge(
                "bulwark.bulkhead.max_concurrent",
                "The limit on calls at once",
                name,
                &[],
            ),
            max_queued: gauge(
                "bulwark.bulkhead.max_queued",
                "The limit on waiting calls",
                name,
                &[],
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Admitted { .. } => i.admissions.increment(1),
            Event::Queued { .. } => {}
            // The `max_concurrent` gauge is set where the limit changes.
            Event::LimitChanged { from, to, .. } => {
                i.limit_changes[usize::from(to > from)].increment(1);
            }
            Event::Rejected { reason, .. } => {
                let index = usize::from(matches!(reason, FullReason::TimedOut { .. }));
                i.rejections[index].increment(1);
            }
        }
    }
}
