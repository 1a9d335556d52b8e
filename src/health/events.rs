//! What a health aggregator reports about itself: its events and its metrics.

use std::sync::Arc;

use super::Status;
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A check's reported status changed (`from` is `None` for its first result).
    CheckChanged {
        /// The check's name.
        name: Arc<str>,
        /// The status before, if there was one.
        from: Option<Status>,
        /// The status now.
        to: Status,
    },
    /// The overall status of all checks changed.
    StatusChanged {
        /// The status before.
        from: Status,
        /// The status now.
        to: Status,
    },
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::CheckChanged { name, from, to } => tracing::info!(
                target: "bulwark::health",
                check = &**name,
                from = from.map(Status::as_str),
                to = to.as_str(),
                "health check status changed"
            ),
            Event::StatusChanged { from, to } => tracing::info!(
                target: "bulwark::health",
                from = from.as_str(),
                to = to.as_str(),
                "overall health status changed"
            ),
        }
    }
}
