//! The builder of a [`Backoff`] and its validation.

use super::{Backoff, Growth, Jitter};
use crate::ConfigError;
use std::time::Duration;

/// The default cap when none is set: 30 seconds, or the base delay if that is larger.
const DEFAULT_MAX: Duration = Duration::from_secs(30);

/// Builds a [`Backoff`]; made by [`Backoff::constant`], [`Backoff::linear`] or
/// [`Backoff::exponential`]. Checked once, by [`build`](Self::build).
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BackoffBuilder {
    base: Duration,
    growth: Growth,
    factor: Option<f64>,
    max: Option<Duration>,
    jitter: Jitter,
    seed: Option<u64>,
}

impl BackoffBuilder {
    pub(super) fn new(base: Duration, growth: Growth) -> Self {
        Self {
            base,
            growth,
            factor: None,
            max: None,
            jitter: Jitter::Full,
            seed: None,
        }
    }

    /// The growth factor of an exponential backoff (2 unless set). Must be finite and at least 1;
    /// only an exponential backoff has one.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = Some(factor);
        self
    }

    /// The cap: no delay is longer. Must be at least the base delay. Unless set, 30 seconds, or the
    /// base delay if that is larger. Durations beyond `u64::MAX` nanoseconds (584 years) are
    /// clamped to that.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// How delays are spread; [`Jitter::Full`] unless set.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Seeds the jitter, for tests: every [`Backoff::delays`] then yields the same sequence.
    /// Without a seed, each `delays()` is seeded from the thread's random generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the settings and returns the backoff, or an error naming the field at fault.
    pub fn build(self) -> Result<Backoff, ConfigError> {
        let growth = match (self.growth, self.factor) {
            (Growth::Exponential(_), Some(f)) if !(f.is_finite() && f >= 1.0) => {
                return Err(ConfigError::new(
                    "backoff",
                    "factor",
                    "must be a finite number of at least 1",
                ));
            }
            (Growth::Exponential(_), Some(f)) => Growth::Exponential(f),
            (_, Some(_)) => {
                return Err(ConfigError::new(
                    "backoff",
                    "factor",
                    "applies to an exponential backoff only",
                ));
            }
            (growth, None) => growth,
        };
        let max = match self.max {
            Some(max) if max < self.base => {
                return Err(ConfigError::new(
                    "backoff",
                    "max_delay",
                    "must be at least the base delay",
                ));
            }
            Some(max) => max,
            None => DEFAULT_MAX.max(self.base),
        };
        if self.jitter == Jitter::Decorrelated && self.base.is_zero() {
            return Err(ConfigError::new(
                "backoff",
                "jitter",
                "decorrelated jitter needs a non-zero base delay",
            ));
        }
        Ok(Backoff {
            base: nanos(self.base),
            max: nanos(max),
            growth,
            jitter: self.jitter,
            seed: self.seed,
        })
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
