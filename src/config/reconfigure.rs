//! The named instances of a policies file: their builders, and new settings for running ones.

use super::policies::missing;
use super::{LoadError, Policies};

/// A running instance that takes new settings from [`Policies`], found by its name:
/// [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker) and
/// [`Bulkhead`](crate::bulkhead::Bulkhead), and a [`Keyed`](crate::keyed::Keyed) breaker or
/// bulkhead (by its template's name: every key's instance takes the settings). Sealed.
pub trait Reconfigure: private::Sealed {
    /// Applies this instance's entry of `policies` (see [`Policies::reconfigure`]).
    #[doc(hidden)]
    fn reconfigure_from(&self, policies: &Policies) -> Result<(), LoadError>;
}

mod private {
    pub trait Sealed {}
}

fn rejected(section: &str, name: &str, e: &crate::ConfigError) -> LoadError {
    LoadError::new(format!("{section}.{name}.{}", e.field()), e.reason())
}

/// Finds `name` in a table of `section` and hands its settings to `reconfigure`, placing any
/// error at its key.
fn apply<S>(
    section: &str,
    entries: &std::collections::BTreeMap<String, S>,
    name: &str,
    reconfigure: impl FnOnce(&S) -> Result<(), crate::ConfigError>,
) -> Result<(), LoadError> {
    let settings = entries.get(name).ok_or_else(|| missing(section, name))?;
    reconfigure(settings).map_err(|e| rejected(section, name, &e))
}

#[cfg(feature = "circuit-breaker")]
impl<C> private::Sealed for crate::circuit_breaker::CircuitBreaker<C> {}

#[cfg(feature = "circuit-breaker")]
impl<C> Reconfigure for crate::circuit_breaker::CircuitBreaker<C> {
    fn reconfigure_from(&self, policies: &Policies) -> Result<(), LoadError> {
        let name = self.name().as_ref();
        apply("circuit_breaker", &policies.circuit_breaker, name, |s| {
            self.reconfigure(s)
        })
    }
}

#[cfg(feature = "bulkhead")]
impl private::Sealed for crate::bulkhead::Bulkhead {}

#[cfg(feature = "bulkhead")]
impl Reconfigure for crate::bulkhead::Bulkhead {
    fn reconfigure_from(&self, policies: &Policies) -> Result<(), LoadError> {
        let name = self.name().as_ref();
        apply("bulkhead", &policies.bulkhead, name, |s| {
            self.reconfigure(s)
        })
    }
}

#[cfg(all(feature = "keyed", feature = "circuit-breaker"))]
impl<K, C> private::Sealed for crate::keyed::Keyed<K, crate::circuit_breaker::CircuitBreaker<C>> where
    C: Clone + Send + Sync + 'static
{
}

#[cfg(all(feature = "keyed", feature = "circuit-breaker"))]
impl<K, C> Reconfigure for crate::keyed::Keyed<K, crate::circuit_breaker::CircuitBreaker<C>>
where
    K: std::hash::Hash + Eq + std::fmt::Debug,
    C: Clone + Send + Sync + 'static,
{
    /// By the template's name: `[circuit_breaker.<template's name>]`.
    fn reconfigure_from(&self, policies: &Policies) -> Result<(), LoadError> {
        let name = self.template().name().as_ref();
        apply("circuit_breaker", &policies.circuit_breaker, name, |s| {
            self.reconfigure(s)
        })
    }
}

#[cfg(all(feature = "keyed", feature = "bulkhead"))]
impl<K> private::Sealed for crate::keyed::Keyed<K, crate::bulkhead::Bulkhead> {}

#[cfg(all(feature = "keyed", feature = "bulkhead"))]
impl<K: std::hash::Hash + Eq + std::fmt::Debug> Reconfigure
    for crate::keyed::Keyed<K, crate::bulkhead::Bulkhead>
{
    /// By the template's name: `[bulkhead.<template's name>]`.
    fn reconfigure_from(&self, policies: &Policies) -> Result<(), LoadError> {
        let name = self.template().name().as_ref();
        apply("bulkhead", &policies.bulkhead, name, |s| {
            self.reconfigure(s)
        })
    }
}

impl Policies {
    /// Gives `target` the settings of its entry in these policies, found by its name
    /// (`[circuit_breaker.<name>]` for a breaker, `[bulkhead.<name>]` for a bulkhead), keeping
    /// its state. On an error (no such entry, or a change a running instance cannot take, such
    /// as a breaker's window) nothing changes.
    pub fn reconfigure(&self, target: &impl Reconfigure) -> Result<(), LoadError> {
        target.reconfigure_from(self)
    }

    /// Gives a running budget the settings of `[retry_budget.<name>]`, keeping its balance
    /// (see [`RetryBudget::reconfigure`](crate::retry::RetryBudget::reconfigure)).
    #[cfg(feature = "retry")]
    pub fn reconfigure_retry_budget(
        &self,
        name: &str,
        budget: &crate::retry::RetryBudget,
    ) -> Result<(), LoadError> {
        apply("retry_budget", &self.retry_budget, name, |s| {
            budget.reconfigure(s)
        })
    }

    /// The builder of the breaker `name`: the file's settings and the name applied.
    #[cfg(feature = "circuit-breaker")]
    pub fn circuit_breaker(
        &self,
        name: &str,
    ) -> Result<crate::circuit_breaker::Builder, LoadError> {
        let settings = self
            .circuit_breaker
            .get(name)
            .ok_or_else(|| missing("circuit_breaker", name))?;
        Ok(crate::circuit_breaker::CircuitBreaker::builder()
            .settings(settings)
            .name(name.to_owned()))
    }

    /// The builder of the bulkhead `name`: the file's settings and the name applied.
    #[cfg(feature = "bulkhead")]
    pub fn bulkhead(&self, name: &str) -> Result<crate::bulkhead::Builder, LoadError> {
        let settings = self
            .bulkhead
            .get(name)
            .ok_or_else(|| missing("bulkhead", name))?;
        Ok(crate::bulkhead::Bulkhead::builder()
            .settings(settings)
            .name(name.to_owned()))
    }

    /// The builder of the retry `name`: the file's settings (with a budget of its own unless
    /// the entry says `budget = "off"`) and the name applied. To share a budget, give the
    /// builder one from [`retry_budget`](Self::retry_budget).
    #[cfg(feature = "retry")]
    pub fn retry(&self, name: &str) -> Result<crate::retry::RetryBuilder, LoadError> {
        let settings = self.retry.get(name).ok_or_else(|| missing("retry", name))?;
        Ok(crate::retry::Retry::builder()
            .settings(settings)
            .name(name.to_owned()))
    }

    /// The budget `name`, built.
    #[cfg(feature = "retry")]
    pub fn retry_budget(&self, name: &str) -> Result<crate::retry::RetryBudget, LoadError> {
        let settings = self
            .retry_budget
            .get(name)
            .ok_or_else(|| missing("retry_budget", name))?;
        crate::retry::RetryBudget::builder()
            .settings(settings)
            .build()
            .map_err(|e| rejected("retry_budget", name, &e))
    }

    /// The builder of the rate limiter `name`: the file's settings and the name applied.
    #[cfg(feature = "rate-limit")]
    pub fn rate_limit(&self, name: &str) -> Result<crate::rate_limit::Builder, LoadError> {
        let settings = self
            .rate_limit
            .get(name)
            .ok_or_else(|| missing("rate_limit", name))?;
        Ok(crate::rate_limit::RateLimiter::builder()
            .settings(settings)
            .name(name.to_owned()))
    }

    /// The timeout `name`, named.
    #[cfg(feature = "timeout")]
    pub fn timeout(&self, name: &str) -> Result<crate::timeout::Timeout, LoadError> {
        let duration = self
            .timeout
            .get(name)
            .ok_or_else(|| missing("timeout", name))?;
        Ok(crate::timeout::Timeout::new(*duration).name(name.to_owned()))
    }
}
