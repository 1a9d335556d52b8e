//! Aggregates health checks into liveness, readiness and startup reports. (essay to come)

mod aggregator;
mod builder;
mod check;
mod error;
#[cfg(feature = "http")]
mod future;
#[cfg(feature = "serde")]
mod json;
mod report;
#[cfg(feature = "http")]
mod service;
mod slot;

use std::sync::Arc;

pub use aggregator::{HealthAggregator, Selection};
pub use builder::{Check, DEFAULT_CACHE_FOR, DEFAULT_TIMEOUT, HealthAggregatorBuilder};
pub use check::{Detail, Details, FnCheck, Health, HealthCheck, IntoHealth, Status, Tag, check_fn};
pub use error::ConfigError;
pub use report::{CheckReport, HealthReport};

#[cfg(feature = "http")]
pub use future::ResponseFuture;
#[cfg(feature = "serde")]
pub use json::{JsonFormat, ReportJson, Visibility};
#[cfg(feature = "http")]
pub use service::HealthEndpoint;

use crate::event::PatternEvent;

/// Counters of a [`HealthAggregator`], from [`HealthAggregator::metrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthMetrics {
    /// Check runs completed.
    pub runs: u64,
    /// Results served from the cache (or, in background mode, from the latest run).
    pub cache_hits: u64,
    /// Callers that joined a run already in progress instead of starting one.
    pub joins: u64,
    /// The overall status, as [`HealthAggregator::watch`] reports it.
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
