//! A rate limiter's settings as plain data, read from a file and applied by the builder.

use super::{Builder, RateLimiter};
use std::time::Duration;

/// Every setting of a [`RateLimiter`] that is data, named as the builder's methods: `rate`
/// calls per `per` ([`Builder::rate`]), [`burst`](Builder::burst) and
/// [`max_wait`](Builder::max_wait). The default is the builder's (100 per second, a burst of
/// 1, no waiting).
///
/// ```toml
/// [rate_limit.clients]
/// rate = 50
/// per = "1s"
/// burst = 10
/// max_wait = "100ms"
/// ```
///
/// A running limiter's rate is fixed: build a new limiter from new settings (the local
/// limiter's only state is the next free turn, so little is lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct Settings {
    /// Calls allowed per `per`.
    pub rate: u64,
    /// The period of `rate`.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub per: Duration,
    /// [`Builder::burst`].
    pub burst: u64,
    /// [`Builder::max_wait`].
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub max_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Builder::new().settings_now()
    }
}

impl Builder {
    /// Applies every setting of `settings` (the name, listeners and store are kept);
    /// [`build`](Self::build) validates them.
    pub fn settings(self, settings: &Settings) -> Self {
        self.rate(settings.rate, settings.per)
            .burst(settings.burst)
            .max_wait(settings.max_wait)
    }
}

impl RateLimiter {
    /// The limiter's settings.
    pub fn settings(&self) -> Settings {
        self.shared.settings()
    }
}
