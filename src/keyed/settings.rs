//! New settings for every key of a keyed breaker or bulkhead, each keeping its state.

use super::Keyed;
use crate::ConfigError;
use std::fmt;
use std::hash::Hash;

#[cfg(feature = "circuit-breaker")]
impl<K, C> Keyed<K, crate::circuit_breaker::CircuitBreaker<C>>
where
    K: Hash + Eq + fmt::Debug,
    C: Clone + Send + Sync + 'static,
{
    /// Gives the template and every key's breaker `settings`, each keeping its state (see
    /// [`CircuitBreaker::reconfigure`](crate::circuit_breaker::CircuitBreaker::reconfigure)).
    ///
    /// The template takes them first: they are validated there, so on an error (a setting out
    /// of range, a new window) no key changes. A key made while this runs is made from the new
    /// template; every key already held is then changed, one shard at a time.
    ///
    /// ```
    /// use bulwark::circuit_breaker::CircuitBreaker;
    /// use bulwark::keyed::Keyed;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let hosts: Keyed<String, _> = Keyed::builder(CircuitBreaker::builder().build()?).build()?;
    /// let ups = hosts.get("ups.example")?;
    /// let mut settings = hosts.template().settings();
    /// settings.minimum_calls = 5;
    /// hosts.reconfigure(&settings)?;
    /// assert_eq!(ups.settings().minimum_calls, 5);
    /// assert_eq!(hosts.get("dhl.example")?.settings().minimum_calls, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconfigure(
        &self,
        settings: &crate::circuit_breaker::Settings,
    ) -> Result<(), ConfigError> {
        self.template().reconfigure(settings)?;
        let mut failed = None;
        self.for_each(|_, breaker| {
            if let Err(e) = breaker.reconfigure(settings) {
                failed.get_or_insert(e);
            }
        });
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(feature = "bulkhead")]
impl<K: Hash + Eq + fmt::Debug> Keyed<K, crate::bulkhead::Bulkhead> {
    /// Gives the template and every key's bulkhead `settings`, each keeping its calls in flight
    /// and waiting (see [`Bulkhead::reconfigure`](crate::bulkhead::Bulkhead::reconfigure)).
    /// Validated by the template first: on an error no key changes. A key made while this runs
    /// is made from the new template.
    pub fn reconfigure(&self, settings: &crate::bulkhead::Settings) -> Result<(), ConfigError> {
        self.template().reconfigure(settings)?;
        let mut failed = None;
        self.for_each(|_, bulkhead| {
            if let Err(e) = bulkhead.reconfigure(settings) {
                failed.get_or_insert(e);
            }
        });
        failed.map_or(Ok(()), Err)
    }
}
