//! The builder of a [`Bulkhead`].

use super::state::{Lanes, Shared, check_max_concurrent};
use super::{AdaptiveLimit, Bulkhead, Event};
use crate::event::Listeners;
use crate::{ConfigError, Name};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The default limit of calls at once.
pub(super) const DEFAULT_MAX_CONCURRENT: usize = 25;

/// Builds a [`Bulkhead`]; made by [`Bulkhead::builder`].
///
/// Defaults: `max_concurrent` 25, `max_queued` 0 (a call that finds every slot taken is turned
/// away at once), no `max_wait` (a queued call waits until a slot frees up), named
/// `"bulkhead"`. [`settings`](Self::settings) applies a [`Settings`](super::Settings) at once.
///
/// ```
/// use std::time::Duration;
/// use bulwark::bulkhead::Bulkhead;
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let bulkhead = Bulkhead::builder()
///     .name("reports")
///     .max_concurrent(8)
///     .max_queued(32)
///     .max_wait(Duration::from_millis(200))
///     .build()?;
/// assert_eq!(bulkhead.metrics().max_queued, 32);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Builder {
    max_concurrent: usize,
    max_queued: usize,
    max_wait: Option<Duration>,
    listeners: Listeners<Event>,
    adaptive: Option<AdaptiveLimit>,
}

impl Builder {
    pub(super) fn new() -> Self {
        Self {
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_queued: 0,
            max_wait: None,
            listeners: Listeners::new(&"bulkhead"),
            adaptive: None,
        }
    }

    /// How many calls may run at once (at least 1); with [`Builder::adaptive`], the algorithm's
    /// initial limit is used instead.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// Lets `limit` ([`Aimd`](super::Aimd) or [`Vegas`](super::Vegas)) set how many calls may
    /// run at once, from the latency and the failures of the calls that complete; see
    /// [Adaptive limits](super#adaptive-limits). The bulkhead starts at the algorithm's initial
    /// limit: this replaces [`Builder::max_concurrent`].
    pub fn adaptive(mut self, limit: impl Into<AdaptiveLimit>) -> Self {
        self.adaptive = Some(limit.into());
        self
    }

    /// How many calls may wait for a slot when all are taken; 0 turns them away at once.
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = n;
        self
    }

    /// How long one call may wait in the queue before it is turned away (more than zero).
    ///
    /// The wait is counted from the moment the call joins the queue. A wait needs a tokio runtime
    /// with time enabled, as `tokio::time::sleep` does.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    pub(super) fn clear_max_wait(&mut self) {
        self.max_wait = None;
    }

    /// Names the bulkhead (`"payments"`): the name is in its events, `tracing` fields, metric
    /// labels, health details and [`BulkheadFull`](super::BulkheadFull)'s message. Default:
    /// `"bulkhead"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the bulkhead's [`Event`]s. Listeners run on the task that observed
    /// the event, with no lock held, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and builds the bulkhead.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field, when `max_concurrent` is 0 or above
    /// `usize::MAX >> 3`, or `max_wait` is zero (use `max_queued(0)` to turn calls away
    /// without waiting).
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
        let max_concurrent = match &self.adaptive {
            // Checked by the algorithm's own builder.
            Some(limit) => limit.bounds().initial,
            None => check_max_concurrent(self.max_concurrent)?,
        };
        if self.max_wait == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "bulkhead",
                "max_wait",
                "must be more than zero (use max_queued(0) to turn calls away without waiting)",
            ));
        }
        let shared = Shared::new(
            max_concurrent,
            self.max_queued,
            self.max_wait,
            self.listeners.finish(),
            self.adaptive,
            crate::stripe::stripe_count(),
        );
        Ok(Bulkhead {
            lanes: Arc::new(Lanes::new(shared)),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_concurrent", &self.max_concurrent)
            .field("max_queued", &self.max_queued)
            .field("max_wait", &self.max_wait)
            .field("listeners", &self.listeners)
            .field("adaptive", &self.adaptive)
            .finish()
    }
}
