//! What a report holds: the overall status and one [`CheckReport`] per check.

use super::check::{Details, Status, Tag};
use super::slot::Recorded;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The result of asking the aggregator: the overall status and each selected check's result.
#[derive(Clone, Debug)]
pub struct HealthReport {
    status: Status,
    checks: Vec<CheckReport>,
    generated: SystemTime,
}

impl HealthReport {
    pub(super) fn new(status: Status, checks: Vec<CheckReport>, generated: SystemTime) -> Self {
        Self {
            status,
            checks,
            generated,
        }
    }

    /// The overall status: the worst status of the critical checks, with an optional check
    /// counting at worst as `Degraded`. `Healthy` when no check was selected.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Each selected check, in registration order.
    pub fn checks(&self) -> &[CheckReport] {
        &self.checks
    }

    /// The check named `name`, if it is in this report.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name() == name)
    }

    /// The wall-clock time at which the report was put together.
    pub fn generated_at(&self) -> SystemTime {
        self.generated
    }
}

/// One check's entry in a [`HealthReport`].
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub(super) name: Arc<str>,
    pub(super) tags: Arc<[Tag]>,
    pub(super) critical: bool,
    pub(super) status: Status,
    pub(super) stale: bool,
    pub(super) age: Duration,
    pub(super) recorded: Arc<Recorded>,
}

impl CheckReport {
    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The check's tags.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// Whether the check is critical (its `Unhealthy` makes the report `Unhealthy`).
    pub fn critical(&self) -> bool {
        self.critical
    }

    /// The reported status: the observed one after hysteresis, and `Unhealthy` if the result is
    /// [stale](Self::is_stale).
    pub fn status(&self) -> Status {
        self.status
    }

    /// What the last run itself returned, before hysteresis and staleness.
    pub fn observed(&self) -> Status {
        self.recorded.health.status()
    }

    /// The last run's message: the check's own, or why it failed (timed out, panicked). A stale
    /// result says so instead.
    pub fn message(&self) -> Option<&str> {
        if self.stale {
            Some("stale: the last result is older than the configured max_age")
        } else {
            self.recorded.health.message()
        }
    }

    /// The last run's details.
    pub fn details(&self) -> &Details {
        self.recorded.health.details()
    }

    /// How long the last run took.
    pub fn duration(&self) -> Duration {
        self.recorded.duration
    }

    /// How long ago the last run completed, when the report was put together.
    pub fn age(&self) -> Duration {
        self.age
    }

    /// Whether the result's age has reached the background mode's `max_age`, so it is reported
    /// `Unhealthy` whatever it said.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The wall-clock time at which the last run completed, given the report's time.
    pub fn completed_at(&self, report: &HealthReport) -> SystemTime {
        report
            .generated
            .checked_sub(self.age)
            .unwrap_or(report.generated)
    }
}
