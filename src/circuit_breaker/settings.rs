//! A breaker's settings as plain data: read from a file, applied by the builder, changed on a
//! running breaker by [`CircuitBreaker::reconfigure`].

use super::CircuitBreaker;
use super::builder::{Builder, Config, DroppedCall, WindowKind};
use crate::ConfigError;
use crate::backoff;
use std::time::Duration;

/// Every setting of a [`CircuitBreaker`] that is data (not code: the classifier and listeners
/// stay on the [`Builder`]), named as the builder's methods.
///
/// The default is the builder's default. Apply settings with [`Builder::settings`], read a
/// breaker's with [`CircuitBreaker::settings`], change a running breaker's with
/// [`CircuitBreaker::reconfigure`]. With the `serde` feature they read from a settings file
/// (every field optional, unknown fields rejected, durations written as `"30s"`); see
/// [`config`](crate::config) for named policies in TOML or JSON:
///
/// ```toml
/// [circuit_breaker.payments]
/// count_window = 50                  # or time_window = "60s"
/// minimum_calls = 20
/// failure_rate_threshold = 0.5       # or "off"
/// slow_call_threshold = { slower_than = "2s", rate = 0.8 }
/// consecutive_failures = 5
/// open_duration = "30s"
/// open_duration_backoff = { curve = "exponential", base = "30s", max_delay = "5m" }
/// permitted_calls_in_half_open = 3
/// max_wait_in_half_open = "10s"
/// dropped_calls = "ignore"           # or "failure"
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct Settings {
    /// [`Builder::count_window`]; with neither window set, the last 100 calls.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub count_window: Option<u32>,
    /// [`Builder::time_window`]; setting both windows is an error.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub time_window: Option<Duration>,
    /// [`Builder::minimum_calls`].
    pub minimum_calls: u32,
    /// [`Builder::failure_rate_threshold`]; `None` ([`Builder::no_failure_rate_threshold`],
    /// `"off"` in a file) turns the rule off.
    #[cfg_attr(feature = "serde", serde(with = "rate_or_off"))]
    pub failure_rate_threshold: Option<f64>,
    /// [`Builder::slow_call_threshold`]; off when absent.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub slow_call_threshold: Option<SlowCall>,
    /// [`Builder::consecutive_failures`]; off when absent.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub consecutive_failures: Option<u32>,
    /// [`Builder::open_duration`].
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub open_duration: Duration,
    /// [`Builder::open_duration_backoff`]; none when absent.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub open_duration_backoff: Option<backoff::Settings>,
    /// [`Builder::permitted_calls_in_half_open`].
    pub permitted_calls_in_half_open: u32,
    /// [`Builder::max_wait_in_half_open`]; none when absent.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub max_wait_in_half_open: Option<Duration>,
    /// [`Builder::dropped_calls`].
    pub dropped_calls: DroppedCall,
}

/// The slow-call rule: [`Builder::slow_call_threshold`]'s two arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(deny_unknown_fields)
)]
pub struct SlowCall {
    /// A call that takes longer than this is slow.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub slower_than: Duration,
    /// The share of slow calls that opens the circuit, in (0, 1].
    pub rate: f64,
}

impl Settings {
    /// The validated configuration these settings describe (the backoff built here, so its
    /// errors name the breaker's field).
    pub(crate) fn config(&self) -> Result<Config, ConfigError> {
        let window = match (self.count_window, self.time_window) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "circuit_breaker",
                    "time_window",
                    "set either count_window or time_window, not both",
                ));
            }
            (_, Some(d)) => WindowKind::Time(d),
            (n, None) => WindowKind::Count(n.unwrap_or(100)),
        };
        let reopen_backoff = match &self.open_duration_backoff {
            Some(b) => Some(b.build().map_err(|e| {
                ConfigError::new(
                    "circuit_breaker",
                    format!("open_duration_backoff.{}", e.field()),
                    e.reason().to_owned(),
                )
            })?),
            None => None,
        };
        let config = Config {
            window,
            minimum_calls: self.minimum_calls,
            failure_rate: self.failure_rate_threshold,
            slow_call: self.slow_call_threshold.map(|s| (s.slower_than, s.rate)),
            consecutive_failures: self.consecutive_failures,
            open_duration: self.open_duration,
            reopen_backoff,
            probes: self.permitted_calls_in_half_open,
            max_wait_in_half_open: self.max_wait_in_half_open,
            dropped: self.dropped_calls,
        };
        config.validate()?;
        Ok(config)
    }
}

impl Config {
    /// The settings that describe this configuration.
    pub(crate) fn settings(&self) -> Settings {
        let (count_window, time_window) = match self.window {
            WindowKind::Count(n) => (Some(n), None),
            WindowKind::Time(d) => (None, Some(d)),
        };
        Settings {
            count_window,
            time_window,
            minimum_calls: self.minimum_calls,
            failure_rate_threshold: self.failure_rate,
            slow_call_threshold: self
                .slow_call
                .map(|(slower_than, rate)| SlowCall { slower_than, rate }),
            consecutive_failures: self.consecutive_failures,
            open_duration: self.open_duration,
            open_duration_backoff: self.reopen_backoff.map(|b| b.settings()),
            permitted_calls_in_half_open: self.probes,
            max_wait_in_half_open: self.max_wait_in_half_open,
            dropped_calls: self.dropped,
        }
    }
}

impl Default for Settings {
    /// The builder's defaults, with neither window set (so a file may set either).
    fn default() -> Self {
        Settings {
            count_window: None,
            ..Builder::new().config().settings()
        }
    }
}

impl<C> Builder<C> {
    /// Applies every setting of `settings` (the classifier, the name and the listeners are kept);
    /// [`build`](Self::build) validates them.
    pub fn settings(mut self, settings: &Settings) -> Self {
        match settings.config() {
            Ok(config) => *self.config_mut() = config,
            Err(e) => self.reject(e),
        }
        self
    }
}

impl<C> CircuitBreaker<C> {
    /// The breaker's current settings.
    pub fn settings(&self) -> Settings {
        self.core().settings()
    }

    /// Changes the settings of this running breaker, for every clone, layer and service of it,
    /// keeping its state, its window and the calls in flight. Validated first: on an error
    /// nothing changes.
    ///
    /// A change applies to what happens after it. The window's content, recorded under the old
    /// rules, is kept, and the new thresholds judge it at the latest when the next failure or
    /// slow call is recorded (the trip rules run then, as always: a success cannot raise a
    /// rate). An open circuit keeps the open period it was given and uses the new open duration
    /// from its next opening; a new number of half-open probes applies from the next
    /// admission; a call already in flight when a slow-call rule is turned on is not slow (its
    /// start was not timed). The window itself (count or time, and its size) cannot change on a running
    /// breaker: it is the breaker's memory, and resizing it would either invent calls or forget
    /// them, so a change of window is refused with an error on `count_window` or `time_window`
    /// (build a new breaker for it).
    ///
    /// ```
    /// use bulwark::circuit_breaker::CircuitBreaker;
    ///
    /// # fn main() -> Result<(), bulwark::ConfigError> {
    /// let breaker = CircuitBreaker::builder().name("payments").build()?;
    /// let mut settings = breaker.settings();
    /// settings.failure_rate_threshold = Some(0.25);
    /// breaker.reconfigure(&settings)?;
    /// assert_eq!(breaker.settings().failure_rate_threshold, Some(0.25));
    ///
    /// settings.count_window = Some(10);
    /// assert!(breaker.reconfigure(&settings).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconfigure(&self, settings: &Settings) -> Result<(), ConfigError> {
        let config = settings.config()?;
        self.core().reconfigure(config)
    }
}

#[cfg(feature = "serde")]
mod rate_or_off {
    //! A rate that a file may turn off with `"off"` (TOML has no null).
    use serde::{Deserializer, Serializer, de};
    use std::fmt;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        struct RateOrOff;
        impl de::Visitor<'_> for RateOrOff {
            type Value = Option<f64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate in (0, 1] or \"off\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<f64>, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<f64>, E> {
                Ok(Some(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<f64>, E> {
                Ok(Some(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<f64>, E> {
                if v == "off" {
                    Ok(None)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
                Ok(None)
            }
        }
        d.deserialize_any(RateOrOff)
    }

    pub(super) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(rate) => s.serialize_f64(*rate),
            None => s.serialize_str("off"),
        }
    }
}
