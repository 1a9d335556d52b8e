//! What a health aggregator reports about itself: its events and its metrics.

use std::sync::Arc;

use super::Status;
use crate::Name;
use crate::event::PatternEvent;

/// Counters of a [`HealthAggregator`](super::HealthAggregator), from [`HealthAggregator::metrics`](super::HealthAggregator::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Check runs completed.
    pub runs: u64,
    /// Results served from the cache (or, in background mode, from the latest run).
    pub cache_hits: u64,
    /// Callers that joined a run already in progress instead of starting one.
    pub joins: u64,
    /// The overall status of every check now, as a report of every check would give it (a stale
    /// result counts as `Unhealthy`); [`HealthAggregator::watch`](super::HealthAggregator::watch) holds the same once
    /// [`metrics`](super::HealthAggregator::metrics) returns.
    pub status: Status,
}

/// Something that happened in a health aggregator.
///
/// Every variant carries the aggregator's [`name`](super::HealthAggregatorBuilder::name) (also
/// returned by [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A check's reported status changed (`from` is `None` for its first result).
    CheckChanged {
        /// The aggregator's name.
        name: Name,
        /// The check's name.
        check: Arc<str>,
        /// The status before, if there was one.
        from: Option<Status>,
        /// The status now.
        to: Status,
    },
    /// The overall status of all checks changed.
    StatusChanged {
        /// The aggregator's name.
        name: Name,
        /// The status before.
        from: Status,
        /// The status now.
        to: Status,
    },
}

impl Event {
    /// The name of the aggregator the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::CheckChanged { name, .. } | Event::StatusChanged { name, .. } => name,
        }
    }
}

/// The overall status gauge of one aggregator (feature `metrics`); each check's own gauge and
/// duration histogram are registered with its slot.
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    pub(crate) status: crate::instrument::OneHot<3>,
}

/// The metric handles of one check (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct CheckInstruments {
    status: crate::instrument::OneHot<3>,
    duration: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl CheckInstruments {
    pub(crate) fn new(name: &Name, check: &Arc<str>) -> Self {
        let check = || vec![metrics::Label::new("check", Arc::clone(check))];
        Self {
            status: crate::instrument::OneHot::new(
                "bulwark.health.check.status",
                "1 for the check's reported status, 0 for the others",
                name,
                "status",
                Status::ALL.map(Status::as_str),
                check(),
            ),
            duration: crate::instrument::seconds(
                "bulwark.health.check.duration_seconds",
                "How long each run of the check took, in seconds",
                name,
                check(),
            ),
        }
    }

    /// Records one completed run.
    pub(crate) fn record(&self, status: Status, duration: std::time::Duration) {
        self.status.set(status as usize);
        self.duration.record(duration.as_secs_f64());
    }
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::CheckChanged {
                name,
                check,
                from,
                to,
            } => tracing::info!(
                target: "bulwark::health",
                name = name.as_str(),
                check = &**check,
                from = from.map(Status::as_str),
                to = to.as_str(),
                "health check status changed"
            ),
            Event::StatusChanged { name, from, to } => tracing::info!(
                target: "bulwark::health",
                name = name.as_str(),
                from = from.as_str(),
                to = to.as_str(),
                "overall health status changed"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        Instruments {
            status: crate::instrument::OneHot::new(
                "bulwark.health.status",
                "1 for the overall status of every check, 0 for the others",
                name,
                "status",
                Status::ALL.map(Status::as_str),
                Vec::new(),
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        if let (Some(i), Event::StatusChanged { to, .. }) = (instruments, self) {
            i.status.set(*to as usize);
        }
    }
}
