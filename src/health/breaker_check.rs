//! A ready-made check of a circuit breaker's state (features `health` and `circuit-breaker`).

use super::check::{Health, HealthCheck, Status};
use crate::circuit_breaker::{CircuitBreaker, State};
use std::fmt;
use std::future::{Future, ready};

/// Reports a [`CircuitBreaker`]'s state: `Healthy` when closed (or turned off by hand),
/// `Degraded` when half-open, and [`when_open`](Self::when_open) (default `Degraded`) when open.
///
/// An open circuit is `Degraded`, not `Unhealthy`, by default on purpose: the breaker already
/// protects the dependency, and a readiness probe that fails whenever a breaker opens takes the
/// instance out of its load balancer, then every other instance whose breaker opened for the same
/// reason, until the whole fleet is out. Make it `Unhealthy` only for a dependency without which
/// the instance can do nothing useful.
///
/// The details carry the breaker's `name`, `state` and `rejected` (calls turned away since the breaker was built), and
/// while the breaker keeps a window (closed, or metrics-only) `calls`, `failure_rate` and
/// `slow_call_rate`.
///
/// ```
/// use bulwark::circuit_breaker::CircuitBreaker;
/// use bulwark::health::{Check, CircuitBreakerCheck, HealthAggregator};
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let payments = CircuitBreaker::builder().build()?;
/// let health = HealthAggregator::builder()
///     .check(Check::new("payments", CircuitBreakerCheck::new(payments.clone())).readiness())
///     .build()?;
/// # let _ = health;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreakerCheck<C> {
    breaker: CircuitBreaker<C>,
    when_open: Status,
}

impl<C> CircuitBreakerCheck<C> {
    /// A check of `breaker` that reports an open circuit as `Degraded`.
    pub fn new(breaker: CircuitBreaker<C>) -> Self {
        Self {
            breaker,
            when_open: Status::Degraded,
        }
    }

    /// The status of an open (or forced-open) circuit.
    #[must_use]
    pub fn when_open(mut self, status: Status) -> Self {
        self.when_open = status;
        self
    }

    fn quoted(&self) -> crate::name::Quoted<'_> {
        crate::name::Quoted(self.breaker.name(), "circuit_breaker")
    }

    fn health(&self) -> Health {
        let m = self.breaker.metrics();
        let (health, state) = match m.state {
            State::Closed => (Health::healthy(), "closed"),
            State::Disabled => (Health::healthy(), "disabled"),
            State::MetricsOnly => (Health::healthy(), "metrics_only"),
            State::HalfOpen => (
                Health::degraded(format!("circuit{} half-open", self.quoted())),
                "half_open",
            ),
            State::Open => (
                Health::new(self.when_open).with_message(format!("circuit{} open", self.quoted())),
                "open",
            ),
            State::ForcedOpen => (
                Health::new(self.when_open)
                    .with_message(format!("circuit{} forced open", self.quoted())),
                "forced_open",
            ),
        };
        let health = health
            .with_detail("name", *self.breaker.name())
            .with_detail("state", state)
            .with_detail("rejected", m.rejected);
        // The breaker keeps a window only while closed (or counting without tripping).
        match m.state {
            State::Closed | State::MetricsOnly => health
                .with_detail("calls", m.calls)
                .with_detail("failure_rate", m.failure_rate)
                .with_detail("slow_call_rate", m.slow_call_rate),
            _ => health,
        }
    }
}

impl<C: Send + Sync + 'static> HealthCheck for CircuitBreakerCheck<C> {
    fn check(&self) -> impl Future<Output = Health> + Send {
        ready(self.health())
    }
}

impl<C> fmt::Debug for CircuitBreakerCheck<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerCheck")
            .field("name", self.breaker.name())
            .field("state", &self.breaker.state())
            .field("when_open", &self.when_open)
            .finish()
    }
}
