//! A backoff as plain data: what a settings file holds, and what [`Backoff::settings`] gives back.

use super::{Backoff, Growth, Jitter};
use crate::ConfigError;
use std::time::Duration;

/// How the delays grow before the cap and jitter: the three constructors of [`Backoff`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Curve {
    /// [`Backoff::constant`]: the same delay every time.
    Constant,
    /// [`Backoff::linear`]: `base`, `2 × base`, `3 × base`, ...
    Linear,
    /// [`Backoff::exponential`]: `base`, `base × factor`, `base × factor²`, ... (the default).
    #[default]
    Exponential,
}

/// The settings of a [`Backoff`] as plain data; [`build`](Self::build) validates them as the
/// builder does.
///
/// The default is [`Backoff::default`]'s curve: exponential from 100 ms, factor 2, capped at
/// 30 s, full jitter. With the `serde` feature it reads from a settings file, every field
/// optional, durations written as `"250ms"`:
///
/// ```toml
/// backoff = { curve = "exponential", base = "200ms", factor = 3.0, max_delay = "10s", jitter = "equal" }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct Settings {
    /// How the delays grow.
    pub curve: Curve,
    /// The first delay (for [`Curve::Linear`], also the step).
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub base: Duration,
    /// The growth factor of an exponential curve (2 when absent); an error on the other curves.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub factor: Option<f64>,
    /// The cap (30 s, or the base delay if longer, when absent).
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub max_delay: Option<Duration>,
    /// How delays are spread around the curve.
    pub jitter: Jitter,
    /// A seed for the jitter, for reproducible delays (tests, demos).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub seed: Option<u64>,
}

impl Default for Settings {
    /// [`Backoff::default`]'s curve, with the factor and the cap left to their defaults (so
    /// that a file that picks another curve needs no factor removed).
    fn default() -> Self {
        Settings {
            factor: None,
            max_delay: None,
            ..Backoff::default().settings()
        }
    }
}

impl Settings {
    /// Validates the settings (as [`BackoffBuilder::build`](super::BackoffBuilder::build) does)
    /// and returns the backoff.
    pub fn build(&self) -> Result<Backoff, ConfigError> {
        let builder = match self.curve {
            Curve::Constant => Backoff::constant(self.base),
            Curve::Linear => Backoff::linear(self.base),
            Curve::Exponential => Backoff::exponential(self.base),
        };
        let mut builder = builder.jitter(self.jitter);
        if let Some(factor) = self.factor {
            builder = builder.factor(factor);
        }
        if let Some(max) = self.max_delay {
            builder = builder.max_delay(max);
        }
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        builder.build()
    }
}

impl Backoff {
    /// This backoff's settings: building them gives an equal backoff.
    pub fn settings(&self) -> Settings {
        let (curve, factor) = match self.growth {
            Growth::Constant => (Curve::Constant, None),
            Growth::Linear => (Curve::Linear, None),
            Growth::Exponential(f) => (Curve::Exponential, Some(f)),
        };
        Settings {
            curve,
            base: Duration::from_nanos(self.base),
            factor,
            max_delay: Some(Duration::from_nanos(self.max)),
            jitter: self.jitter,
            seed: self.seed,
        }
    }
}
