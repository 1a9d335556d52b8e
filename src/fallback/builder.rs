//! The builder of a [`Fallback`].

use super::state::Shared;
use super::{Event, Fallback, Reason, RejectionsOnly};
use crate::ConfigError;
use crate::Name;
use crate::event::Listeners;
use std::fmt;
use std::sync::Arc;

/// Builds a [`Fallback`]; made by [`Fallback::builder`].
///
/// Defaults: the fallback replaces the four rejections (an open circuit, a timeout, a full
/// bulkhead, a rate limit) and none of the call's own outcomes. Choosing rejections with
/// [`on`](Self::on) replaces the four with exactly those chosen;
/// [`on_failure`](Self::on_failure) adds the call's own failures to the rejections replaced.
#[must_use]
pub struct Builder<F, C = RejectionsOnly> {
    value: F,
    classifier: C,
    /// Chosen reasons, one bit per `Reason::index`; no rejection chosen: the default.
    chosen: u8,
    /// `Reason::Classified` was asked for by `on`, which gives no classifier.
    classified_without_classifier: bool,
    listeners: Listeners<Event>,
}

impl<F> Builder<F> {
    pub(super) fn new(value: F) -> Self {
        Self {
            value,
            classifier: RejectionsOnly,
            chosen: 0,
            classified_without_classifier: false,
            listeners: Listeners::new(&"fallback"),
        }
    }
}

impl<F, C> Builder<F, C> {
    /// Replaces the outcomes of `reason` (call once per reason). `Reason::Classified` is chosen
    /// by [`on_failure`](Self::on_failure), which gives the classifier it needs.
    pub fn on(mut self, reason: Reason) -> Self {
        if reason == Reason::Classified {
            self.classified_without_classifier = true;
        } else {
            self.chosen |= 1 << reason.index();
        }
        self
    }

    /// Also replaces the call's own outcomes that `classifier` calls a
    /// [`Failure`](crate::classify::Verdict::Failure): an error, or a response (a 503) that
    /// says the call failed. A [`Classify`](crate::classify::Classify) over the call's own
    /// `Result`: `Result<T, E>` standalone (the error inside `Error::Inner`), `Result<Response,
    /// BoxError>` through tower.
    pub fn on_failure<C2>(self, classifier: C2) -> Builder<F, C2> {
        Builder {
            value: self.value,
            classifier,
            chosen: self.chosen | (1 << Reason::Classified.index()),
            classified_without_classifier: false,
            listeners: self.listeners,
        }
    }

    /// Names the fallback (`"cached-prices"`): the name is in its events, `tracing` fields and
    /// metric labels. Default: `"fallback"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for the fallback's [`Event`]s. Listeners run on the task that
    /// polled the call, with no lock held, and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and builds the fallback.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] (field `on`) when `Reason::Classified` was chosen with [`on`](Self::on)
    /// rather than with a classifier by [`on_failure`](Self::on_failure).
    pub fn build(self) -> Result<Fallback<F, C>, ConfigError> {
        let classified = 1 << Reason::Classified.index();
        if self.classified_without_classifier && self.chosen & classified == 0 {
            return Err(ConfigError::new(
                "fallback",
                "on",
                "`Reason::Classified` needs a classifier: choose it with `on_failure(classifier)`",
            ));
        }
        let rejections = !classified & 0b1_1111;
        let chosen = if self.chosen & rejections == 0 {
            self.chosen | rejections
        } else {
            self.chosen
        };
        Ok(Fallback {
            shared: Arc::new(Shared::new(
                self.value,
                self.classifier,
                chosen,
                self.listeners.finish(),
            )),
        })
    }
}

impl<F, C> fmt::Debug for Builder<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("value", &std::any::type_name::<F>())
            .field("classifier", &std::any::type_name::<C>())
            .field("chosen", &self.chosen)
            .field("listeners", &self.listeners)
            .finish()
    }
}
