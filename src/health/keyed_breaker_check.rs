//! A ready-made check of a keyed circuit breaker (features `health`, `circuit-breaker`, `keyed`).

use super::check::{Health, HealthCheck, Status};
use crate::circuit_breaker::{CircuitBreaker, State};
use crate::keyed::Keyed;
use std::fmt;
use std::future::{Future, ready};
use std::hash::Hash;

/// Reports a [`Keyed`] circuit breaker (a breaker per host, per route): each key whose circuit
/// is not closed is in the details, as `key:<key>` with its state (`open`, `half_open`,
/// `forced_open`), up to [`max_listed`](Self::max_listed) of them.
///
/// The status is the worst of the keys': [`when_open`](Self::when_open) (default `Degraded`,
/// for the reason [`CircuitBreakerCheck`](super::CircuitBreakerCheck) gives) when a key's circuit
/// is open or forced open, `Degraded` when one is half-open, `Healthy` otherwise. The details
/// also carry `name`, `keys` (held now) and `open` (how many keys are not closed).
///
/// ```
/// use bulwark::circuit_breaker::CircuitBreaker;
/// use bulwark::health::{Check, KeyedCircuitBreakerCheck, HealthAggregator};
/// use bulwark::keyed::Keyed;
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let per_host: Keyed<String, _> = Keyed::builder(CircuitBreaker::builder().build()?).build()?;
/// let health = HealthAggregator::builder()
///     .check(Check::new("downstreams", KeyedCircuitBreakerCheck::new(per_host.clone())))
///     .build()?;
/// # let _ = health;
/// # Ok(())
/// # }
/// ```
pub struct KeyedCircuitBreakerCheck<K, C: Clone + Send + Sync + 'static> {
    keyed: Keyed<K, CircuitBreaker<C>>,
    when_open: Status,
    max_listed: usize,
}

impl<K, C: Clone + Send + Sync + 'static> KeyedCircuitBreakerCheck<K, C> {
    /// A check of `keyed` that reports an open circuit as `Degraded` and lists up to 100 keys.
    pub fn new(keyed: Keyed<K, CircuitBreaker<C>>) -> Self {
        Self {
            keyed,
            when_open: Status::Degraded,
            max_listed: 100,
        }
    }

    /// The status when a key's circuit is open (or forced open).
    #[must_use]
    pub fn when_open(mut self, status: Status) -> Self {
        self.when_open = status;
        self
    }

    /// How many keys that are not closed the details list at most (their count is in `open`
    /// all the same).
    #[must_use]
    pub fn max_listed(mut self, n: usize) -> Self {
        self.max_listed = n;
        self
    }
}

impl<K, C> KeyedCircuitBreakerCheck<K, C>
where
    K: Hash + Eq + fmt::Debug + fmt::Display,
    C: Clone + Send + Sync + 'static,
{
    fn health(&self) -> Health {
        // The keys not closed, gathered under the map's locks without running anything; their
        // states are then read (which may apply a due transition, and run listeners) outside.
        let mut candidates = Vec::new();
        self.keyed.for_each(|key, breaker| {
            if !matches!(
                breaker.core().state_as_is(),
                State::Closed | State::Disabled | State::MetricsOnly
            ) {
                candidates.push((format!("key:{key}"), breaker.clone()));
            }
        });
        let mut status = Status::Healthy;
        let mut listed = Vec::new();
        let mut open = 0u64;
        for (key, breaker) in candidates {
            let (worst, state) = match breaker.state() {
                State::Open => (self.when_open, "open"),
                State::ForcedOpen => (self.when_open, "forced_open"),
                State::HalfOpen => (Status::Degraded, "half_open"),
                _ => continue,
            };
            open += 1;
            status = status.worst(worst);
            if listed.len() < self.max_listed {
                listed.push((key, state));
            }
        }
        let name = *self.keyed.name();
        let mut health = Health::new(status);
        if open > 0 {
            health = health.with_message(format!(
                "circuit{} not closed for {open} key{}",
                crate::name::Quoted(&name, "keyed"),
                if open == 1 { "" } else { "s" }
            ));
        }
        let mut health = health
            .with_detail("name", name)
            .with_detail("keys", self.keyed.metrics().keys as u64)
            .with_detail("open", open);
        for (key, state) in listed {
            health = health.with_detail(key, state);
        }
        health
    }
}

impl<K, C> HealthCheck for KeyedCircuitBreakerCheck<K, C>
where
    K: Hash + Eq + fmt::Debug + fmt::Display + Send + Sync + 'static,
    C: Clone + Send + Sync + 'static,
{
    fn check(&self) -> impl Future<Output = Health> + Send {
        ready(self.health())
    }
}

impl<K, C: Clone + Send + Sync + 'static> Clone for KeyedCircuitBreakerCheck<K, C> {
    fn clone(&self) -> Self {
        Self {
            keyed: self.keyed.clone(),
            when_open: self.when_open,
            max_listed: self.max_listed,
        }
    }
}

impl<K, C: Clone + Send + Sync + 'static> fmt::Debug for KeyedCircuitBreakerCheck<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerCheck")
            .field("name", self.keyed.name())
            .field("when_open", &self.when_open)
            .field("max_listed", &self.max_listed)
            .finish()
    }
}
