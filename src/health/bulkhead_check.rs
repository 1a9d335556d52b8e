//! A ready-made check of a bulkhead's saturation (features `health` and `bulkhead`).

use super::check::{Health, HealthCheck, Status};
use crate::bulkhead::Bulkhead;
use std::fmt;
use std::future::{Future, ready};

/// Reports a [`Bulkhead`]'s saturation: the share of its capacity (running slots plus queue
/// places) in use. `Healthy` below [`degraded_at`](Self::degraded_at) (default 0.9), `Degraded`
/// from there, and `Unhealthy` only from [`unhealthy_at`](Self::unhealthy_at) if set.
///
/// A full bulkhead already sheds load by itself, so by default saturation never fails a probe;
/// set `unhealthy_at` to take a saturated instance out of its load balancer instead.
///
/// The details carry the bulkhead's `name`, `saturation`, `in_flight`, `max_concurrent`, `queued`, `max_queued` and
/// `rejected` (calls turned away since the bulkhead was built).
///
/// ```
/// use bulwark::bulkhead::Bulkhead;
/// use bulwark::health::{BulkheadCheck, Check, HealthAggregator};
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let db_pool = Bulkhead::builder().max_concurrent(16).max_queued(64).build()?;
/// let health = HealthAggregator::builder()
///     .check(Check::new("db-pool", BulkheadCheck::new(db_pool.clone()).degraded_at(0.75)))
///     .build()?;
/// # let _ = health;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BulkheadCheck {
    bulkhead: Bulkhead,
    degraded_at: f64,
    unhealthy_at: Option<f64>,
}

/// A fraction in `0..=1`; NaN means 1.
fn fraction(f: f64) -> f64 {
    if f.is_nan() { 1.0 } else { f.clamp(0.0, 1.0) }
}

impl BulkheadCheck {
    /// A check of `bulkhead`: `Degraded` from 90% saturation, never `Unhealthy`.
    pub fn new(bulkhead: Bulkhead) -> Self {
        Self {
            bulkhead,
            degraded_at: 0.9,
            unhealthy_at: None,
        }
    }

    /// The saturation (a fraction, clamped to `0..=1`) from which the check is `Degraded`.
    #[must_use]
    pub fn degraded_at(mut self, saturation: f64) -> Self {
        self.degraded_at = fraction(saturation);
        self
    }

    /// The saturation (a fraction, clamped to `0..=1`) from which the check is `Unhealthy`.
    #[must_use]
    pub fn unhealthy_at(mut self, saturation: f64) -> Self {
        self.unhealthy_at = Some(fraction(saturation));
        self
    }

    fn health(&self) -> Health {
        let m = self.bulkhead.metrics();
        let used = m.in_flight.saturating_add(m.queued);
        let capacity = m.max_concurrent.saturating_add(m.max_queued);
        let saturation = if capacity == 0 {
            1.0
        } else {
            (used as f64 / capacity as f64).min(1.0)
        };
        let status = if self.unhealthy_at.is_some_and(|t| saturation >= t) {
            Status::Unhealthy
        } else if saturation >= self.degraded_at {
            Status::Degraded
        } else {
            Status::Healthy
        };
        let health = match status {
            Status::Healthy => Health::healthy(),
            _ => Health::new(status).with_message(format!(
                "bulkhead{} {:.0}% saturated",
                crate::name::Quoted(self.bulkhead.name(), "bulkhead"),
                saturation * 100.0
            )),
        };
        health
            .with_detail("name", *self.bulkhead.name())
            .with_detail("saturation", saturation)
            .with_detail("in_flight", m.in_flight)
            .with_detail("max_concurrent", m.max_concurrent)
            .with_detail("queued", m.queued)
            .with_detail("max_queued", m.max_queued)
            .with_detail(
                "rejected",
                m.rejected_queue_full.saturating_add(m.rejected_timed_out),
            )
    }
}

impl HealthCheck for BulkheadCheck {
    fn check(&self) -> impl Future<Output = Health> + Send {
        ready(self.health())
    }
}

impl fmt::Debug for BulkheadCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadCheck")
            .field("bulkhead", &self.bulkhead)
            .field("degraded_at", &self.degraded_at)
            .field("unhealthy_at", &self.unhealthy_at)
            .finish()
    }
}
