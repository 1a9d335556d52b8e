//! The builder of a [`RateLimiter`].

use super::gcra::Gcra;
use super::state::{Shared, nanos};
use super::{Event, RateLimiter};
use crate::ConfigError;
use crate::Name;
use crate::event::Listeners;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`RateLimiter`]; made by [`RateLimiter::builder`].
///
/// Defaults: 100 calls per second, a burst of 1 (no call is admitted sooner than the steady rate
/// allows), no wait (a call over the limit is turned away at once with its `retry_after`).
///
/// ```
/// use std::time::Duration;
/// use bulwark::rate_limit::RateLimiter;
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// // 50 calls a second, bursts of 10, a call may wait up to 100 ms for its turn.
/// let limiter = RateLimiter::builder()
///     .name("clients")
///     .rate(50, Duration::from_secs(1))
///     .burst(10)
///     .max_wait(Duration::from_millis(100))
///     .build()?;
/// assert_eq!(limiter.metrics().interval, Duration::from_millis(20));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Builder {
    n: u64,
    per: Duration,
    burst: u64,
    max_wait: Duration,
    listeners: Listeners<Event>,
    #[cfg(feature = "redis")]
    redis: Option<super::RedisStore>,
}

impl Builder {
    pub(super) fn new() -> Self {
        Self {
            n: 100,
            per: Duration::from_secs(1),
            burst: 1,
            max_wait: Duration::ZERO,
            listeners: Listeners::new(&"rate_limit"),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The steady rate: `n` calls per `per` (both more than zero). One call is admitted every
    /// `per / n`, rounded up to a whole nanosecond, so the limiter never admits more than asked.
    pub fn rate(mut self, n: u64, per: Duration) -> Self {
        self.n = n;
        self.per = per;
        self
    }

    /// How many calls may be admitted at once after an idle period (at least 1). The limit
    /// then reads: no window of length `len` admits more than `burst + n * len / per` calls.
    pub fn burst(mut self, burst: u64) -> Self {
        self.burst = burst;
        self
    }

    /// How long a call over the limit may wait for its turn; a call whose turn is further away
    /// is turned away at once. Zero (the default) turns every call over the limit away.
    ///
    /// A call that waits reserves its turn when it is decided, so later calls queue behind it
    /// in order. A wait needs a tokio runtime with time enabled, as `tokio::time::sleep` does.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Names the limiter (`"search-api"`): the name is in its events, `tracing` fields and metric
    /// labels. Default: `"rate_limit"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the limiter's [`Event`]s. Listeners run on the task that observed
    /// the event, with no lock held, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Keeps the limit's state in Redis, so that every limiter with the same key, in any
    /// process, shares one limit. See [`RedisStore`](super::RedisStore) for the key, the
    /// round-trip timeout and the policy when Redis is away.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, store: super::RedisStore) -> Self {
        self.redis = Some(store);
        self
    }

    /// The limit's cell rate algorithm, checked.
    pub(super) fn settings_now(&self) -> super::Settings {
        super::Settings {
            rate: self.n,
            per: self.per,
            burst: self.burst,
            max_wait: self.max_wait,
        }
    }

    pub(super) fn gcra(&self) -> Result<Gcra, ConfigError> {
        let error = |field, reason| Err(ConfigError::new("rate_limit", field, reason));
        if self.n == 0 {
            return error("rate", "the number of calls must be at least 1");
        }
        if self.per.is_zero() {
            return error("rate", "the period must be more than zero");
        }
        if self.burst == 0 {
            return error("burst", "must be at least 1");
        }
        match Gcra::new(self.n, nanos(self.per), self.burst) {
            Some(gcra) => Ok(gcra),
            None => error(
                "burst",
                "burst times the interval (period / calls) must be under 2^62 ns (146 years)",
            ),
        }
    }

    /// Checks the settings and builds the limiter.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field, when the rate's count or period is zero, the burst is
    /// zero, or the burst spans more than 146 years at the steady rate.
    pub fn build(self) -> Result<RateLimiter, ConfigError> {
        let gcra = self.gcra()?;
        let shared = Shared::new(
            gcra,
            (self.n, self.per),
            self.burst,
            self.max_wait,
            self.listeners.finish(),
            #[cfg(feature = "redis")]
            self.redis,
        );
        Ok(RateLimiter {
            shared: Arc::new(shared),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("rate", &(self.n, self.per))
            .field("burst", &self.burst)
            .field("max_wait", &self.max_wait)
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}
