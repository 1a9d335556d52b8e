//! AIMD: additive increase, multiplicative decrease, the way TCP finds a congestion window.

use super::{Bounds, Round};
use crate::ConfigError;
use std::time::Duration;

/// The AIMD limit: one more slot after each round of calls that all went well, the limit times
/// [`backoff`](AimdBuilder::backoff) after a drop.
///
/// A *drop* is a call that failed (see [what counts as a drop](super::super#what-counts-as-a-drop))
/// or, with a [`latency_threshold`](AimdBuilder::latency_threshold), one that took longer than
/// it. Built by [`Aimd::builder`]; given to [`Builder::adaptive`](super::super::Builder::adaptive).
///
/// ```
/// use std::time::Duration;
/// use bulwark::bulkhead::{Aimd, Bulkhead};
///
/// let aimd = Aimd::builder()
///     .initial_limit(10)
///     .min_limit(2)
///     .max_limit(100)
///     .backoff(0.75)
///     .latency_threshold(Duration::from_millis(250))
///     .build()?;
/// let bulkhead = Bulkhead::builder().adaptive(aimd).build()?;
/// assert_eq!(bulkhead.metrics().max_concurrent, 10);
/// # Ok::<(), bulwark::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aimd {
    pub(super) bounds: Bounds,
    pub(super) backoff: f64,
    latency_threshold: Option<Duration>,
}

impl Aimd {
    /// A builder; see [`AimdBuilder`] for the defaults.
    pub fn builder() -> AimdBuilder {
        AimdBuilder {
            bounds: Bounds::DEFAULT,
            backoff: 0.9,
            latency_threshold: None,
        }
    }

    /// Whether a completed call counts as a drop.
    pub(super) fn is_drop(&self, latency: Duration, failed: bool) -> bool {
        failed || self.latency_threshold.is_some_and(|t| latency > t)
    }

    /// The limit after a drop: `limit * backoff` rounded down, never below the minimum.
    pub(super) fn decreased(&self, limit: usize) -> usize {
        // `limit * backoff < limit` for every limit >= 1, so a drop always lowers a limit above
        // the minimum. `as` saturates and a limit is at most `usize::MAX >> 3`: exact enough.
        let lowered = (limit as f64 * self.backoff).floor() as usize;
        self.bounds.clamp(lowered.min(limit.saturating_sub(1)))
    }

    /// The limit after a full round without a drop: one more if the round used at least half
    /// of the limit (a limit nobody uses is not raised), never above the maximum.
    pub(super) fn after_round(&self, limit: usize, round: &Round) -> usize {
        if round.max_in_flight.saturating_mul(2) >= limit {
            self.bounds.clamp(limit.saturating_add(1))
        } else {
            limit
        }
    }
}

/// Builds an [`Aimd`] limit; made by [`Aimd::builder`].
///
/// Defaults: `initial_limit` 20, `min_limit` 1, `max_limit` 200, `backoff` 0.9 (those of Netflix's
/// `AIMDLimit`, but for `min_limit`), no `latency_threshold` (only failed calls are drops).
#[must_use]
#[derive(Clone, Copy, Debug)]
pub struct AimdBuilder {
    bounds: Bounds,
    backoff: f64,
    latency_threshold: Option<Duration>,
}

impl AimdBuilder {
    bound_setters!();

    /// What a drop multiplies the limit by: more than 0, less than 1.
    pub fn backoff(mut self, factor: f64) -> Self {
        self.backoff = factor;
        self
    }

    /// A call that takes longer than this counts as a drop, as a failed call does (more than
    /// zero). The latency is measured from the moment the call took its slot.
    pub fn latency_threshold(mut self, threshold: Duration) -> Self {
        self.latency_threshold = Some(threshold);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] (pattern `"bulkhead"`) naming the field: the bounds out of order (see
    /// [`AimdBuilder::min_limit`] and the others), `backoff` not strictly between 0 and 1, a zero
    /// `latency_threshold`.
    pub fn build(self) -> Result<Aimd, ConfigError> {
        self.bounds.check()?;
        if !(self.backoff > 0.0 && self.backoff < 1.0) {
            return Err(ConfigError::new(
                "bulkhead",
                "backoff",
                "must be more than 0 and less than 1",
            ));
        }
        if self.latency_threshold == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "bulkhead",
                "latency_threshold",
                "must be more than zero",
            ));
        }
        Ok(Aimd {
            bounds: self.bounds,
            backoff: self.backoff,
            latency_threshold: self.latency_threshold,
        })
    }
}
