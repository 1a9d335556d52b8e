//! The builder of a [`Keyed`] policy.

use super::policy::Policy;
use super::{Event, Keyed};
use crate::event::Listeners;
use crate::{ConfigError, Name};
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

/// Builds a [`Keyed`] policy; made by [`Keyed::builder`].
///
/// Defaults: at most 10,000 keys, no idle timeout (a key stays until a new key needs its room),
/// named `"keyed"`.
#[must_use]
pub struct Builder<K, P> {
    template: P,
    max_keys: usize,
    idle: Option<Duration>,
    listeners: Listeners<Event>,
    _key: PhantomData<fn(K)>,
}

impl<K, P: Policy> Builder<K, P> {
    pub(super) fn new(template: P) -> Self {
        Self {
            template,
            max_keys: 10_000,
            idle: None,
            listeners: Listeners::new(&"keyed"),
            _key: PhantomData,
        }
    }

    /// The most keys held at once (at least 1). A new key beyond it takes the place of the least
    /// recently used key of its shard that may be evicted; see
    /// [Bounded memory](super#bounded-memory).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Evicts keys idle (not looked up) for longer than `idle` (at least one millisecond:
    /// recency is kept to the millisecond), if their instance may be evicted. Evicted when a new
    /// key is inserted into their shard, or by [`Keyed::evict_idle`].
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Names the keyed policy (`"per-client"`): the name is in its events, `tracing` fields,
    /// metric labels and rejections. Default: `"keyed"`. The instances keep the template's name.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the keyed policy's [`Event`]s (evictions, refusals). Listeners
    /// run on the task that observed the event, with no lock held, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and builds the keyed policy. No instance is made until a key is
    /// first used.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field, when `max_keys` is zero, the idle timeout is under a
    /// millisecond, or the template cannot be keyed (a rate limiter whose state is in Redis).
    pub fn build(self) -> Result<Keyed<K, P>, ConfigError>
    where
        K: Hash + Eq,
    {
        let error = |field, reason| Err(ConfigError::new("keyed", field, reason));
        if self.max_keys == 0 {
            return error("max_keys", "must be at least 1");
        }
        if self.idle.is_some_and(|d| d < Duration::from_millis(1)) {
            return error(
                "idle_timeout",
                "must be at least 1 millisecond (recency is kept to the millisecond)",
            );
        }
        if let Some(reason) = self.template.unkeyable() {
            return error("template", reason);
        }
        Ok(Keyed::from_parts(
            self.template,
            self.max_keys,
            self.idle,
            self.listeners.finish(),
        ))
    }
}

impl<K, P: fmt::Debug> fmt::Debug for Builder<K, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("template", &self.template)
            .field("max_keys", &self.max_keys)
            .field("idle_timeout", &self.idle)
            .field("listeners", &self.listeners)
            .finish()
    }
}
