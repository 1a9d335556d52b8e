//! The [`HealthAggregatorBuilder`]: the aggregator's configuration, validated once.

use super::Event;
use super::handle::{HealthAggregator, Mode};
use super::register::Check;
use crate::ConfigError;
use crate::event::Listeners;
use std::fmt;
use std::time::Duration;

/// The timeout of a check that does not set its own, unless the builder changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long on-demand results are reused, unless the builder changes it.
pub const DEFAULT_CACHE_FOR: Duration = Duration::from_secs(1);

/// Builds a [`HealthAggregator`]; from [`HealthAggregator::builder`].
///
/// Defaults: checks time out after [`DEFAULT_TIMEOUT`], results are reused for
/// [`DEFAULT_CACHE_FOR`] and checks run when a report is asked for (on demand).
///
/// ```
/// use std::time::Duration;
/// use bulwark::health::{Check, HealthAggregator, Status};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let health = HealthAggregator::builder()
///     .name("gateway")
///     .default_timeout(Duration::from_millis(500))
///     .cache_for(Duration::from_secs(1))
///     .check(Check::from_fn("database", || async { true }).readiness())
///     .build()?;
/// assert_eq!(health.report().await.status(), Status::Healthy);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct HealthAggregatorBuilder {
    checks: Vec<Check>,
    default_timeout: Duration,
    cache_for: Duration,
    background: Option<Duration>,
    max_age: Option<Duration>,
    listeners: Listeners<Event>,
}

impl HealthAggregatorBuilder {
    pub(super) fn new() -> Self {
        Self {
            checks: Vec::new(),
            default_timeout: DEFAULT_TIMEOUT,
            cache_for: DEFAULT_CACHE_FOR,
            background: None,
            max_age: None,
            listeners: Listeners::new(&"health"),
        }
    }

    /// Registers a check. Names must be unique.
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// The timeout of checks that do not set their own.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// On demand: reuses a check's result for `ttl` after it completes, so a burst of probes runs
    /// each check once. `Duration::ZERO` reuses nothing, but concurrent callers still share a run
    /// in progress.
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.cache_for = ttl;
        self
    }

    /// Runs every check in a background task every `interval` (the first run starts at once);
    /// reports read the latest results and never run a check themselves, except to wait for the
    /// first result. The task ends when the last clone of the aggregator is dropped.
    ///
    /// [`build`](Self::build) must then be called inside a tokio runtime.
    pub fn background(mut self, interval: Duration) -> Self {
        self.background = Some(interval);
        self
    }

    /// In background mode, a result whose age reaches `max_age` is reported `Unhealthy`
    /// ("stale"), whatever it said, by reports, the metrics and the watch alike. It must be longer than the interval plus the longest check timeout (a
    /// result must survive until the next run is due and done). Default: two intervals plus the
    /// longest check timeout.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Names the aggregator (`"orders"`): the name is in its events, `tracing` fields and
    /// metric labels (each check has its own name too). Default: `"health"`.
    pub fn name(mut self, name: impl Into<crate::Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for this aggregator's [`Event`]s. Listeners run on the task that
    /// published the change (a report's caller, a `metrics()` or `watch()` caller, or the
    /// background task) and should return quickly; a listener's panic is caught and reported.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Validates the configuration and builds the aggregator; in background mode, starts the
    /// task.
    pub fn build(self) -> Result<HealthAggregator, ConfigError> {
        for (i, check) in self.checks.iter().enumerate() {
            check.validate()?;
            if self.checks[..i].iter().any(|c| c.name == check.name) {
                return Err(ConfigError::new(
                    "health",
                    format!("checks[{:?}].name", &*check.name),
                    "is registered twice",
                ));
            }
        }
        if self.default_timeout.is_zero() {
            return Err(ConfigError::new(
                "health",
                "default_timeout",
                "must be greater than zero",
            ));
        }
        let mode = match self.background {
            None => {
                if self.max_age.is_some() {
                    return Err(ConfigError::new(
                        "health",
                        "max_age",
                        "applies to background mode only: set `background` too",
                    ));
                }
                Mode::OnDemand {
                    cache_for: self.cache_for,
                }
            }
            Some(interval) => {
                if interval.is_zero() {
                    return Err(ConfigError::new(
                        "health",
                        "background.interval",
                        "must be greater than zero",
                    ));
                }
                // A result must stay fresh while the next run is due and running.
                let longest = self
                    .checks
                    .iter()
                    .map(|c| c.timeout.unwrap_or(self.default_timeout))
                    .max()
                    .unwrap_or(Duration::ZERO);
                let min_age = interval.saturating_add(longest);
                let max_age = self
                    .max_age
                    .unwrap_or(interval.saturating_mul(2).saturating_add(longest));
                if max_age <= min_age {
                    return Err(ConfigError::new(
                        "health",
                        "max_age",
                        "must be longer than the background interval plus the longest check timeout",
                    ));
                }
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(ConfigError::new(
                        "health",
                        "background",
                        "needs a tokio runtime: call `build` inside one",
                    ));
                }
                Mode::Background { interval, max_age }
            }
        };
        Ok(HealthAggregator::start(
            self.checks,
            self.default_timeout,
            mode,
            self.listeners.finish(),
        ))
    }
}

impl fmt::Debug for HealthAggregatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthAggregatorBuilder")
            .field("checks", &self.checks)
            .field("default_timeout", &self.default_timeout)
            .field("cache_for", &self.cache_for)
            .field("background", &self.background)
            .field("max_age", &self.max_age)
            .field("listeners", &self.listeners)
            .finish()
    }
}
