//! Vegas: the limit follows the queue the dependency builds, estimated from the gap between its
//! latency now and its latency with no load (TCP Vegas, as Netflix's `VegasLimit` adapts it).

use super::{Bounds, Round};
use crate::ConfigError;
use std::time::Duration;

/// The Vegas limit: from each round's mean latency `rtt` and the lowest latency seen,
/// `rtt_noload`, it estimates the calls queued at the dependency, `queue = limit × (1 −
/// rtt_noload / rtt)`, and moves the limit by one step (`log10(limit)`, at least 1) towards the
/// band where `alpha × log10(limit) <= queue <= beta × log10(limit)`: up below it, down above
/// it. A drop (a failed call) lowers the limit by one step at once.
///
/// Built by [`Vegas::builder`]; given to [`Builder::adaptive`](super::super::Builder::adaptive).
///
/// ```
/// use bulwark::bulkhead::{Bulkhead, Vegas};
///
/// let vegas = Vegas::builder().initial_limit(8).max_limit(64).build()?;
/// let bulkhead = Bulkhead::builder().adaptive(vegas).max_queued(16).build()?;
/// assert_eq!(bulkhead.metrics().max_concurrent, 8);
/// # Ok::<(), bulwark::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vegas {
    pub(super) bounds: Bounds,
    alpha: f64,
    beta: f64,
}

impl Vegas {
    /// A builder; see [`VegasBuilder`] for the defaults.
    pub fn builder() -> VegasBuilder {
        VegasBuilder {
            bounds: Bounds::DEFAULT,
            alpha: 3.0,
            beta: 6.0,
        }
    }

    /// `log10(limit)`, at least 1: the step, and the unit of `alpha` and `beta`.
    fn step(limit: usize) -> usize {
        (limit as f64).log10().floor().max(1.0) as usize
    }

    /// The limit after a drop: one step down.
    pub(super) fn decreased(&self, limit: usize) -> usize {
        self.bounds.clamp(limit.saturating_sub(Self::step(limit)))
    }

    /// The limit after a full round without a drop, whose calls' lowest latency ever is
    /// `no_load`.
    pub(super) fn after_round(&self, limit: usize, round: &Round, no_load: Duration) -> usize {
        if round.samples == 0 || round.max_in_flight.saturating_mul(2) < limit {
            // Not used enough to tell anything about the dependency.
            return limit;
        }
        let rtt = round.mean().as_secs_f64();
        if rtt <= 0.0 {
            return limit;
        }
        let ratio = (no_load.as_secs_f64() / rtt).min(1.0);
        let queue = limit as f64 * (1.0 - ratio);
        let unit = (limit as f64).log10().max(1.0);
        let step = Self::step(limit);
        let next = if queue < self.alpha * unit {
            limit.saturating_add(step)
        } else if queue > self.beta * unit {
            limit.saturating_sub(step)
        } else {
            limit
        };
        self.bounds.clamp(next)
    }
}

/// Builds a [`Vegas`] limit; made by [`Vegas::builder`].
///
/// Defaults: `initial_limit` 20, `min_limit` 1, `max_limit` 200, `alpha` 3, `beta` 6 (those of
/// Netflix's `VegasLimit`).
#[must_use]
#[derive(Clone, Copy, Debug)]
pub struct VegasBuilder {
    bounds: Bounds,
    alpha: f64,
    beta: f64,
}

impl VegasBuilder {
    bound_setters!();

    /// Below `alpha × log10(limit)` calls queued at the dependency, the limit grows (more than 0).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Above `beta × log10(limit)` calls queued at the dependency, the limit shrinks (more than
    /// `alpha`).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] (pattern `"bulkhead"`) naming the field: the bounds out of order, `alpha`
    /// not more than 0, `beta` not more than `alpha` (or either not finite).
    pub fn build(self) -> Result<Vegas, ConfigError> {
        self.bounds.check()?;
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(ConfigError::new(
                "bulkhead",
                "alpha",
                "must be a finite number more than 0",
            ));
        }
        if !(self.beta > self.alpha && self.beta.is_finite()) {
            return Err(ConfigError::new(
                "bulkhead",
                "beta",
                "must be a finite number more than alpha",
            ));
        }
        Ok(Vegas {
            bounds: self.bounds,
            alpha: self.alpha,
            beta: self.beta,
        })
    }
}
