//! The builder of a circuit breaker and its validated configuration.

use super::count_window::MAX_SIZE;
use super::time_window::BUCKETS;
use super::{CircuitBreaker, Event};
use crate::backoff::Backoff;
use crate::classify::DefaultClassifier;
use crate::event::Listeners;
use crate::{ConfigError, Name};
use std::fmt;
use std::time::Duration;

/// The largest number of concurrent half-open probes (the probe counters keep 12 bits each).
pub(crate) const MAX_PROBES: u32 = 1_000;

/// The longest open duration: durations are kept as nanoseconds in 64 bits.
const MAX_OPEN: Duration = Duration::from_secs(365 * 24 * 3600);

/// Which calls the trip rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// The last `n` recorded calls.
    Count(u32),
    /// The calls recorded in the last `duration`.
    Time(Duration),
}

/// What a call whose future is dropped before completing counts as, in the closed state.
///
/// A half-open probe that is dropped never counts: it only gives its slot back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum DroppedCall {
    /// Not recorded at all (the default): the caller gave up, the downstream did nothing wrong.
    #[default]
    Ignore,
    /// Recorded as a failure: a caller that gives up (typically an outer timeout) is taken as a
    /// sign that the downstream is too slow.
    Failure,
}

/// The validated settings of a circuit breaker.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    pub(crate) window: WindowKind,
    pub(crate) minimum_calls: u32,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow_call: Option<(Duration, f64)>,
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) open_duration: Duration,
    pub(crate) reopen_backoff: Option<Backoff>,
    pub(crate) probes: u32,
    pub(crate) max_wait_in_half_open: Option<Duration>,
    pub(crate) dropped: DroppedCall,
}

/// Builds a [`CircuitBreaker`]; made by [`CircuitBreaker::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`count_window`](Self::count_window) / [`time_window`](Self::time_window) | the last 100 calls |
/// | [`minimum_calls`](Self::minimum_calls) | 10 |
/// | [`failure_rate_threshold`](Self::failure_rate_threshold) | 0.5 (50 %) |
/// | [`slow_call_threshold`](Self::slow_call_threshold) | off |
/// | [`consecutive_failures`](Self::consecutive_failures) | off |
/// | [`open_duration`](Self::open_duration) | 30 s |
/// | [`open_duration_backoff`](Self::open_duration_backoff) | none: every opening lasts `open_duration` |
/// | [`permitted_calls_in_half_open`](Self::permitted_calls_in_half_open) | 5 |
/// | [`max_wait_in_half_open`](Self::max_wait_in_half_open) | none |
/// | [`dropped_calls`](Self::dropped_calls) | [`DroppedCall::Ignore`] |
/// | [`classifier`](Self::classifier) | [`DefaultClassifier`]: `Err` is a failure |
/// | [`name`](Self::name) | `"circuit_breaker"` |
///
/// ```
/// use std::time::Duration;
/// use bulwark::circuit_breaker::{CircuitBreaker, State};
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let breaker = CircuitBreaker::builder()
///     .name("payments")
///     .count_window(50)
///     .minimum_calls(20)
///     .failure_rate_threshold(0.25)
///     .open_duration(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(breaker.state(), State::Closed);
/// assert!(CircuitBreaker::builder().count_window(0).build().is_err());
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Builder<C = DefaultClassifier> {
    config: Config,
    classifier: C,
    listeners: Listeners<Event>,
    /// A setting rejected by [`settings`](Self::settings), returned by `build()`.
    rejected: Option<ConfigError>,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            config: Config {
                window: WindowKind::Count(100),
                minimum_calls: 10,
                failure_rate: Some(0.5),
                slow_call: None,
                consecutive_failures: None,
                open_duration: Duration::from_secs(30),
                reopen_backoff: None,
                probes: 5,
                max_wait_in_half_open: None,
                dropped: DroppedCall::Ignore,
            },
            classifier: DefaultClassifier,
            listeners: Listeners::new(&"circuit_breaker"),
            rejected: None,
        }
    }
}

impl<C> Builder<C> {
    /// The trip rules look at exactly the last `calls` recorded calls (1 to 32 767), in the order
    /// they were recorded, whatever threads record them: a call whose recording ends before
    /// another's begins (on any thread) comes before it. Only calls whose recordings overlap in
    /// time may be ordered either way, and the window is then exactly what that order gives.
    pub fn count_window(mut self, calls: u32) -> Self {
        self.config.window = WindowKind::Count(calls);
        self
    }

    /// The trip rules look at the calls recorded in the last `duration` (at least 10 ms), kept in
    /// ten buckets: a call leaves the window between 9/10 and all of `duration` after it ended,
    /// however long the breaker then sits idle. Recording a call then reads the clock once.
    pub fn time_window(mut self, duration: Duration) -> Self {
        self.config.window = WindowKind::Time(duration);
        self
    }

    /// The rate rules apply only once the window holds at least `calls` calls (at least 1). With a
    /// count window of fewer than `calls` calls, the window size is the minimum instead.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = calls;
        self
    }

    /// Opens the circuit when the failure rate in the window reaches `rate`, in (0, 1].
    pub fn failure_rate_threshold(mut self, rate: f64) -> Self {
        self.config.failure_rate = Some(rate);
        self
    }

    /// Turns the failure-rate rule off (for a breaker that trips on slow calls or consecutive
    /// failures only). Half-open probes then re-open the circuit on their first failure.
    pub fn no_failure_rate_threshold(mut self) -> Self {
        self.config.failure_rate = None;
        self
    }

    /// Opens the circuit when the rate of calls slower than `slower_than` reaches `rate`, in
    /// (0, 1]. A slow call is counted as slow whether it succeeded or failed. With this rule on,
    /// every call reads the clock when it starts and when it ends.
    pub fn slow_call_threshold(mut self, slower_than: Duration, rate: f64) -> Self {
        self.config.slow_call = Some((slower_than, rate));
        self
    }

    /// Opens the circuit after `failures` failures in a row (at least 1), whatever the window
    /// holds. With calls on several threads, "in a row" is in the order the calls completed.
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.config.consecutive_failures = Some(failures);
        self
    }

    /// How long the circuit stays open before it half-opens (at most a year; zero makes the first
    /// call after opening a probe).
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.config.open_duration = duration;
        self
    }

    /// Lets the open duration grow while half-open trials keep failing: each re-open from
    /// half-open stays open for the next delay of `backoff` (its first delay for the first
    /// re-open), and a successful close starts the backoff again. Opening from the closed state
    /// always uses [`open_duration`](Self::open_duration).
    ///
    /// Pick a backoff that does not go below the open duration, for instance
    /// `Backoff::exponential(2 * open_duration)` with a cap and
    /// [`Jitter::Equal`](crate::backoff::Jitter::Equal); full jitter can draw a delay near zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bulwark::backoff::{Backoff, Jitter};
    /// use bulwark::circuit_breaker::CircuitBreaker;
    ///
    /// # fn main() -> Result<(), bulwark::ConfigError> {
    /// let breaker = CircuitBreaker::builder()
    ///     .open_duration(Duration::from_secs(10))
    ///     .open_duration_backoff(
    ///         Backoff::exponential(Duration::from_secs(20))
    ///             .max_delay(Duration::from_secs(300))
    ///             .jitter(Jitter::Equal)
    ///             .build()?,
    ///     )
    ///     .build()?;
    /// # let _ = breaker;
    /// # Ok(())
    /// # }
    /// ```
    pub fn open_duration_backoff(mut self, backoff: Backoff) -> Self {
        self.config.reopen_backoff = Some(backoff);
        self
    }

    /// How many probe calls may run at once when half-open (1 to 1000). The circuit closes once
    /// that many probes have completed with a failure rate (and slow rate) under the thresholds,
    /// and re-opens as soon as the failed probes alone reach the failure-rate threshold.
    pub fn permitted_calls_in_half_open(mut self, probes: u32) -> Self {
        self.config.probes = probes;
        self
    }

    /// Re-opens a half-open circuit that has not decided within `max_wait` (its probes never
    /// finished, or too few calls came): it is open from the moment `max_wait` ran out, and its
    /// new open duration counts from then. No timer runs: the state is computed when it is read,
    /// so [`CircuitBreaker::state`], [`CircuitBreaker::metrics`] and every call see it at once, and
    /// the first of them makes the transition (its event, its `watch` notification).
    pub fn max_wait_in_half_open(mut self, max_wait: Duration) -> Self {
        self.config.max_wait_in_half_open = Some(max_wait);
        self
    }

    /// What a call dropped before completing counts as in the closed state.
    pub fn dropped_calls(mut self, dropped: DroppedCall) -> Self {
        self.config.dropped = dropped;
        self
    }

    /// Classifies call results as success, failure or ignored; see [`crate::classify`].
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            config: self.config,
            classifier,
            listeners: self.listeners,
            rejected: self.rejected,
        }
    }

    /// Names the breaker (`"payments"`): the name is in its events, `tracing` fields, metric
    /// labels, health details and [`CircuitOpen`](super::CircuitOpen)'s message. Default:
    /// `"circuit_breaker"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the breaker's [`Event`]s. Listeners run on the task that caused
    /// the event, after the breaker released its locks, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Validates the settings and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker<C>, ConfigError> {
        if let Some(e) = self.rejected {
            return Err(e);
        }
        self.config.validate()?;
        Ok(CircuitBreaker::from_parts(
            self.config,
            self.classifier,
            self.listeners.finish(),
        ))
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Keeps the first rejected setting for `build()` to return.
    pub(crate) fn reject(&mut self, e: ConfigError) {
        self.rejected.get_or_insert(e);
    }
}

impl Config {
    /// Checks every setting; the error names the builder method of the first one at fault.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let c = self;
        match c.window {
            WindowKind::Count(n) if n == 0 || n > MAX_SIZE => {
                return Err(ConfigError::new(
                    "circuit_breaker",
                    "count_window",
                    format!("must be between 1 and {MAX_SIZE} calls, got {n}"),
                ));
            }
            WindowKind::Time(d) if d < Duration::from_millis(BUCKETS as u64) || d > MAX_OPEN => {
                return Err(ConfigError::new(
                    "circuit_breaker",
                    "time_window",
                    format!("must be between 10ms and 365 days, got {d:?}"),
                ));
            }
            _ => {}
        }
        if c.minimum_calls == 0 {
            return Err(ConfigError::new(
                "circuit_breaker",
                "minimum_calls",
                "must be at least 1",
            ));
        }
        if let Some(rate) = c.failure_rate {
            check_rate("failure_rate_threshold", rate)?;
        }
        if let Some((_, rate)) = c.slow_call {
            check_rate("slow_call_threshold", rate)?;
        }
        if c.consecutive_failures == Some(0) {
            return Err(ConfigError::new(
                "circuit_breaker",
                "consecutive_failures",
                "must be at least 1",
            ));
        }
        if c.open_duration > MAX_OPEN {
            return Err(ConfigError::new(
                "circuit_breaker",
                "open_duration",
                "must be at most 365 days",
            ));
        }
        if c.reopen_backoff.is_some_and(|b| b.max_delay() > MAX_OPEN) {
            return Err(ConfigError::new(
                "circuit_breaker",
                "open_duration_backoff",
                "its max_delay must be at most 365 days",
            ));
        }
        if c.probes == 0 || c.probes > MAX_PROBES {
            return Err(ConfigError::new(
                "circuit_breaker",
                "permitted_calls_in_half_open",
                format!("must be between 1 and {MAX_PROBES}, got {}", c.probes),
            ));
        }
        if c.max_wait_in_half_open.is_some_and(|d| d > MAX_OPEN) {
            return Err(ConfigError::new(
                "circuit_breaker",
                "max_wait_in_half_open",
                "must be at most 365 days",
            ));
        }
        Ok(())
    }
}

fn check_rate(field: &'static str, rate: f64) -> Result<(), ConfigError> {
    if rate > 0.0 && rate <= 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            "circuit_breaker",
            field,
            format!("must be in (0, 1], got {rate}"),
        ))
    }
}

impl<C> fmt::Debug for Builder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("classifier", &std::any::type_name::<C>())
            .field("listeners", &self.listeners)
            .finish()
    }
}
