//! The limiter's state in Redis, shared by every replica of a service.
//!
//! Each decision is one round trip: `EVALSHA` of a Lua script (the same GCRA as the local cell,
//! in microseconds, on the Redis server's clock, so replicas need no synchronised clocks) that
//! reads the theoretical arrival time, decides, and writes it back with an expiry, atomically.
//! The round trip is bounded by a timeout; when Redis does not answer in time or fails, the
//! [`OnUnavailable`] policy decides.

use super::gcra::{Cell, Decision, Gcra};
use super::state::{Admission, Shared, nanos};
use super::{Event, RateLimited};
use crate::ConfigError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a limiter stored in Redis does when Redis does not answer within the round-trip
/// timeout, or answers with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnUnavailable {
    /// Turn the call away with a [`RateLimited`] that says
    /// [`is_unavailable`](RateLimited::is_unavailable). The default: the limit is never
    /// exceeded, and with the short default timeout a caller learns it at once.
    FailClosed,
    /// Admit the call: availability over the limit, for limits that only smooth load.
    FailOpen,
    /// Decide on a limiter local to this process with `rate / replicas` and
    /// `burst / replicas` (at least 1): while Redis is away, `replicas` processes together stay
    /// near the shared limit (over it only by rounding the burst up to 1 per process, or if more
    /// replicas run than said).
    Local {
        /// How many processes share the limit.
        replicas: u64,
    },
}

impl OnUnavailable {
    /// The policy's name, as in `tracing` fields: `fail_closed`, `fail_open`, `local`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OnUnavailable::FailClosed => "fail_closed",
            OnUnavailable::FailOpen => "fail_open",
            OnUnavailable::Local { .. } => "local",
        }
    }
}

/// Where a [`RateLimiter`](super::RateLimiter)'s state lives in Redis, and what to do when Redis
/// is away; given to [`Builder::redis`](super::Builder::redis).
///
/// ```no_run
/// use std::time::Duration;
/// use bulwark::rate_limit::{OnUnavailable, RateLimiter, RedisStore};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .key_prefix("orders:rate:")
///     .name("checkout")
///     .timeout(Duration::from_millis(20))
///     .on_unavailable(OnUnavailable::Local { replicas: 3 })
///     .build()?;
/// let limiter = RateLimiter::builder()
///     .rate(300, Duration::from_secs(1))
///     .burst(30)
///     .redis(store)
///     .build()?;
/// # let _ = limiter;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    manager: ConnectionManager,
    key: String,
    timeout: Duration,
    on_unavailable: OnUnavailable,
}

/// Builds a [`RedisStore`]; made by [`RedisStore::builder`].
///
/// Defaults: key prefix `bulwark:rate_limit:`, name `default`, a 50 ms round-trip timeout,
/// [`OnUnavailable::FailClosed`].
#[must_use]
#[derive(Debug)]
pub struct RedisStoreBuilder {
    url: String,
    key_prefix: String,
    name: String,
    timeout: Duration,
    on_unavailable: OnUnavailable,
}

impl RedisStore {
    /// A builder for a store on the Redis server at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            key_prefix: "bulwark:rate_limit:".to_owned(),
            name: "default".to_owned(),
            timeout: Duration::from_millis(50),
            on_unavailable: OnUnavailable::FailClosed,
        }
    }

    /// The Redis key holding the limit's state: the prefix, then the name.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl RedisStoreBuilder {
    /// The prefix of the limit's key (default `bulwark:rate_limit:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The limit's name, after the prefix in its key (default `default`). Limiters with the
    /// same key share one limit, whatever process they are in.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The most one decision waits for Redis (more than zero; default 50 ms), connecting
    /// included. Past it, the [`OnUnavailable`] policy decides.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when Redis is away (default [`OnUnavailable::FailClosed`]).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Checks the settings and makes the store. It connects on the first decision (and again
    /// after a lost connection), so a Redis that is down now is not an error here.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] (pattern `rate_limit`) for an invalid URL, a zero timeout, zero
    /// replicas, or when called outside a tokio runtime (the connection lives on a task).
    pub fn build(self) -> Result<RedisStore, ConfigError> {
        let error = |field, reason: String| ConfigError::new("rate_limit", field, reason);
        if self.timeout.is_zero() {
            return Err(error("timeout", "must be more than zero".into()));
        }
        if self.on_unavailable == (OnUnavailable::Local { replicas: 0 }) {
            return Err(error(
                "on_unavailable",
                "replicas must be at least 1".into(),
            ));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(error(
                "redis",
                "must be built inside a tokio runtime".into(),
            ));
        }
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| error("redis", format!("invalid url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(self.timeout);
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| error("redis", e.to_string()))?;
        Ok(RedisStore {
            manager,
            key: format!("{}{}", self.key_prefix, self.name),
            timeout: self.timeout,
            on_unavailable: self.on_unavailable,
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .field("on_unavailable", &self.on_unavailable)
            .finish()
    }
}

/// GCRA on the server's clock, in microseconds. KEYS[1]: the limit. ARGV: the interval, the
/// tolerance, the longest wait. Returns {0, 0} admitted now, {1, wait} admitted after `wait`
/// (the turn is reserved), {2, wait} turned away (a turn is `wait` away). The key expires when
/// its arrival time has passed, when a missing key means the same: a full burst.
const SCRIPT: &str = r"
local t = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local earliest = tat - tau
local next
local reply
if now >= earliest then
  next = math.max(tat, now) + t
  reply = {0, 0}
else
  local wait = earliest - now
  if wait > max_wait then
    return {2, wait}
  end
  next = tat + t
  reply = {1, wait}
end
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
return reply
";

/// The Redis side of a limiter: the store, the script, the limit in microseconds, and the local
/// fallback.
pub(super) struct RedisBackend {
    store: RedisStore,
    script: redis::Script,
    interval_us: u64,
    tau_us: u64,
    max_wait_us: u64,
    fallback: Option<(Gcra, Cell)>,
}

impl RedisBackend {
    pub(super) fn new(store: RedisStore, gcra: Gcra, burst: u64, max_wait: Duration) -> Self {
        // Whole microseconds, rounded up: never more than the limit asked for.
        let interval_us = gcra.interval().div_ceil(1_000);
        let fallback = match store.on_unavailable {
            OnUnavailable::Local { replicas } => {
                let interval = gcra.interval().saturating_mul(replicas);
                let burst = (burst / replicas).max(1);
                // A period of `interval` for one call: `Gcra::new` rounds nothing here.
                Gcra::new(1, interval, burst).map(|g| (g, Cell::new()))
            }
            _ => None,
        };
        Self {
            store,
            script: redis::Script::new(SCRIPT),
            interval_us,
            tau_us: interval_us.saturating_mul(burst - 1),
            max_wait_us: nanos(max_wait) / 1_000,
            fallback,
        }
    }
}

/// A decision in flight: one round trip.
pub(super) type Ask = Pin<Box<dyn Future<Output = Admission> + Send>>;

/// Asks Redis for one decision.
pub(super) fn ask(shared: Arc<Shared>) -> Ask {
    Box::pin(async move {
        let Some(backend) = shared.redis() else {
            return shared.admit_local();
        };
        let mut connection = backend.store.manager.clone();
        let mut invocation = backend.script.key(&backend.store.key);
        invocation
            .arg(backend.interval_us)
            .arg(backend.tau_us)
            .arg(backend.max_wait_us);
        let reply = tokio::time::timeout(
            backend.store.timeout,
            invocation.invoke_async::<(i64, i64)>(&mut connection),
        )
        .await;
        match reply {
            Ok(Ok((0, _))) => shared.admitted_now(),
            Ok(Ok((1, wait_us))) => shared.scheduled(micros(wait_us), None),
            Ok(Ok((_, wait_us))) => Admission::Rejected(shared.rejected(micros(wait_us))),
            Ok(Err(e)) => unavailable(&shared, backend, e.to_string()),
            Err(_) => unavailable(
                &shared,
                backend,
                format!("no answer within {:?}", backend.store.timeout),
            ),
        }
    })
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// Redis did not answer: the policy decides.
#[cold]
fn unavailable(shared: &Arc<Shared>, backend: &RedisBackend, error: String) -> Admission {
    let policy = backend.store.on_unavailable;
    shared.count_unavailable();
    shared.listeners.emit(|name| Event::StoreUnavailable {
        name,
        error,
        policy,
    });
    match (policy, &backend.fallback) {
        (OnUnavailable::FailOpen, _) => shared.admitted_now(),
        (OnUnavailable::Local { .. }, Some((gcra, cell))) => {
            let (_, decision) = gcra.decide(cell, || shared.now(), shared.max_wait_nanos());
            match decision {
                Decision::Admitted => shared.admitted_now(),
                Decision::Scheduled { at, .. } => {
                    let wait = at.saturating_sub(shared.now());
                    shared.scheduled(Duration::from_nanos(wait), None)
                }
                Decision::Rejected { retry_after } => {
                    Admission::Rejected(shared.rejected(Duration::from_nanos(retry_after)))
                }
            }
        }
        _ => Admission::Rejected(shared.rejected_unavailable()),
    }
}

impl RateLimited {
    /// Whether the limiter's store (Redis) was unavailable and its policy turned the call away
    /// ([`OnUnavailable::FailClosed`]), rather than the call being over the limit.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}
