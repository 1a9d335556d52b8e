//! A bulkhead's settings as plain data: read from a file, applied by the builder, changed on a
//! running bulkhead by [`Bulkhead::reconfigure`].

use super::state::check_max_concurrent;
use super::{Builder, Bulkhead};
use crate::ConfigError;
use std::time::Duration;

/// Every setting of a [`Bulkhead`] that is data, named as the builder's methods.
///
/// The default is the builder's default. Apply settings with [`Builder::settings`], read a
/// bulkhead's with [`Bulkhead::settings`], change a running bulkhead's with
/// [`Bulkhead::reconfigure`]. An [adaptive limit](super#adaptive-limits) is code, not
/// settings: it stays on the [`Builder`]. With the `serde` feature they read from a settings
/// file (every field optional, unknown fields rejected):
///
/// ```toml
/// [bulkhead.inventory]
/// max_concurrent = 10
/// max_queued = 20
/// max_wait = "50ms"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct Settings {
    /// [`Builder::max_concurrent`].
    pub max_concurrent: usize,
    /// [`Builder::max_queued`].
    pub max_queued: usize,
    /// [`Builder::max_wait`]; no limit when absent.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::config::duration::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub max_wait: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_concurrent: super::builder::DEFAULT_MAX_CONCURRENT,
            max_queued: 0,
            max_wait: None,
        }
    }
}

impl Settings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_max_concurrent(self.max_concurrent)?;
        if self.max_wait == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "bulkhead",
                "max_wait",
                "must be more than zero (use max_queued(0) to turn calls away without waiting)",
            ));
        }
        Ok(())
    }
}

impl Builder {
    /// Applies every setting of `settings` (the name and listeners are kept);
    /// [`build`](Self::build) validates them.
    pub fn settings(mut self, settings: &Settings) -> Self {
        self = self
            .max_concurrent(settings.max_concurrent)
            .max_queued(settings.max_queued);
        self.clear_max_wait();
        match settings.max_wait {
            Some(w) => self.max_wait(w),
            None => self,
        }
    }
}

impl Bulkhead {
    /// The bulkhead's current settings.
    pub fn settings(&self) -> Settings {
        let m = self.metrics();
        Settings {
            max_concurrent: m.max_concurrent,
            max_queued: m.max_queued,
            max_wait: m.max_wait,
        }
    }

    /// Changes the settings of this running bulkhead, for every clone, layer and service of it,
    /// keeping the calls in flight and the calls waiting. Validated first: on an error nothing
    /// changes.
    ///
    /// The limit changes as [`set_max_concurrent`](Self::set_max_concurrent) does (a lower
    /// limit lets the calls in flight finish and admits no one until they are under it); a
    /// smaller queue turns away new arrivals until it has room, and the calls already waiting
    /// keep their place; a new `max_wait` applies to calls that join the queue from now on.
    /// With an [adaptive limit](super#adaptive-limits) the algorithm owns the limit:
    /// `max_concurrent` is validated but left alone (a reload would otherwise undo what the
    /// algorithm learned), and only the queue and the wait change.
    ///
    /// ```
    /// use bulwark::bulkhead::Bulkhead;
    ///
    /// # fn main() -> Result<(), bulwark::ConfigError> {
    /// let bulkhead = Bulkhead::builder().max_concurrent(4).build()?;
    /// let mut settings = bulkhead.settings();
    /// settings.max_concurrent = 8;
    /// settings.max_queued = 16;
    /// bulkhead.reconfigure(&settings)?;
    /// assert_eq!(bulkhead.metrics().max_concurrent, 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconfigure(&self, settings: &Settings) -> Result<(), ConfigError> {
        settings.validate()?;
        if !self.lanes.is_adaptive() {
            self.lanes.set_max_concurrent(settings.max_concurrent)?;
        }
        self.lanes.set_max_queued(settings.max_queued);
        self.lanes.set_max_wait(settings.max_wait);
        Ok(())
    }
}
