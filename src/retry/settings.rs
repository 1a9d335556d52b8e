//! A retry's and a retry budget's settings as plain data, read from a file and applied by the
//! builders; a running budget takes new ones with [`RetryBudget::reconfigure`].

use super::builder::BudgetChoice;
use super::{RetryBudget, RetryBudgetBuilder, RetryBuilder};
use crate::ConfigError;
use crate::backoff::{self, Backoff};
use std::time::Duration;

/// The settings of a [`RetryBudget`], named as its builder's methods; the default is the
/// builder's (ratio 0.2, 10 per second, a 10 s window).
///
/// ```toml
/// budget = { ratio = 0.1, min_per_second = 5, window = "10s" }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct BudgetSettings {
    /// [`RetryBudgetBuilder::ratio`].
    pub ratio: f64,
    /// [`RetryBudgetBuilder::min_per_second`].
    pub min_per_second: u32,
    /// [`RetryBudgetBuilder::window`].
    #[cfg_attr(feature = "serde", serde(with = "crate::config::duration"))]
    pub window: Duration,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        let b = RetryBudget::builder();
        Self {
            ratio: b.ratio,
            min_per_second: b.min_per_second,
            window: b.window,
        }
    }
}

impl RetryBudgetBuilder {
    /// Applies every setting of `settings`; [`build`](Self::build) validates them.
    pub fn settings(self, settings: &BudgetSettings) -> Self {
        self.ratio(settings.ratio)
            .min_per_second(settings.min_per_second)
            .window(settings.window)
    }
}

/// Every setting of a [`Retry`](super::Retry) that is data (not code: the predicate, the hint
/// and the listeners stay on the [`RetryBuilder`]), named as the builder's methods; the default
/// is the builder's.
///
/// A retry holds no state of its own but its budget, so there is no `reconfigure` on a retry:
/// a new retry is built from new settings, and a budget shared by both (given with
/// [`RetryBuilder::budget`]) keeps its balance and takes new settings with
/// [`RetryBudget::reconfigure`].
///
/// ```toml
/// [retry.payments]
/// max_attempts = 4
/// stop_retrying_after = "5s"
/// wait_for_open_circuit = "1s"
/// backoff = { curve = "exponential", base = "100ms", max_delay = "2s" }
/// budget = { ratio = 0.1 }           # or "off"
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct Settings {
    /// [`RetryBuilder::max_attempts`].
    pub max_attempts: u32,
    /// [`RetryBuilder::stop_retrying_after`]; no limit when absent.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub stop_retrying_after: Option<Duration>,
    /// [`RetryBuilder::wait_for_open_circuit`]; fail fast on an open circuit when absent.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub wait_for_open_circuit: Option<Duration>,
    /// [`RetryBuilder::backoff`].
    pub backoff: backoff::Settings,
    /// A budget of the retry's own ([`RetryBuilder::budget`]); `None`
    /// ([`RetryBuilder::no_budget`], `"off"` in a file) for none.
    #[cfg_attr(feature = "serde", serde(with = "budget_or_off"))]
    pub budget: Option<BudgetSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            stop_retrying_after: None,
            wait_for_open_circuit: None,
            backoff: backoff::Settings::default(),
            budget: Some(BudgetSettings::default()),
        }
    }
}

impl<B, P, H> RetryBuilder<B, P, H> {
    /// Applies every setting of `settings` (the predicate, the hint, the name and the listeners
    /// are kept); [`build`](Self::build) validates them.
    pub fn settings(self, settings: &Settings) -> RetryBuilder<Backoff, P, H> {
        let (backoff, rejected) = match settings.backoff.build() {
            Ok(b) => (b, None),
            Err(e) => (
                Backoff::default(),
                Some(ConfigError::new(
                    "retry",
                    format!("backoff.{}", e.field()),
                    e.reason().to_owned(),
                )),
            ),
        };
        let mut next = self
            .backoff(backoff)
            .max_attempts(settings.max_attempts)
            .with_limits(settings.stop_retrying_after, settings.wait_for_open_circuit)
            .with_budget(match settings.budget {
                Some(b) => BudgetChoice::Own(b),
                None => BudgetChoice::None,
            });
        if let Some(e) = rejected {
            next.reject(e);
        }
        next
    }
}

#[cfg(feature = "serde")]
mod budget_or_off {
    //! A budget that a file may turn off with `"off"` (TOML has no null).
    use super::BudgetSettings;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Off(String),
        On(BudgetSettings),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BudgetSettings>, D::Error> {
        match Option::<Raw>::deserialize(d)? {
            Some(Raw::On(b)) => Ok(Some(b)),
            Some(Raw::Off(s)) if s == "off" => Ok(None),
            Some(Raw::Off(s)) => Err(serde::de::Error::custom(format_args!(
                "expected a table of budget settings or \"off\", got {s:?}"
            ))),
            None => Ok(None),
        }
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<BudgetSettings>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => b.serialize(s),
            None => s.serialize_str("off"),
        }
    }
}
