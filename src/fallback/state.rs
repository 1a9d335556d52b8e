//! What every clone of a [`Fallback`](super::Fallback) shares, and the one decision both doors
//! make: is this outcome replaced, and by what.

use super::{Event, Metrics, Reason};
use crate::BoxError;
use crate::classify::{Classify, Verdict};
use crate::event::Listeners;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Shared<F, C> {
    value: F,
    classifier: C,
    /// The chosen reasons, one bit per `Reason::index`.
    chosen: u8,
    pub(super) listeners: Listeners<Event>,
    used: [AtomicU64; 5],
    panics: AtomicU64,
}

impl<F, C> Shared<F, C> {
    pub(super) fn new(value: F, classifier: C, chosen: u8, listeners: Listeners<Event>) -> Self {
        Self {
            value,
            classifier,
            chosen,
            listeners,
            used: Default::default(),
            panics: AtomicU64::new(0),
        }
    }

    #[inline]
    fn chosen(&self, reason: Reason) -> bool {
        self.chosen & (1 << reason.index()) != 0
    }

    /// The fallback's value for `reason`, or `None` if the closure panicked (the caller then
    /// keeps the original outcome).
    #[cold]
    fn replace<T>(&self, reason: Reason) -> Option<T>
    where
        F: Fn(Reason) -> T,
    {
        match catch_unwind(AssertUnwindSafe(|| (self.value)(reason))) {
            Ok(value) => {
                self.used[reason.index()].fetch_add(1, Ordering::Relaxed);
                self.listeners.emit(|name| Event::Used { name, reason });
                Some(value)
            }
            Err(_) => {
                self.panicked(reason);
                None
            }
        }
    }

    #[cold]
    fn panicked(&self, reason: Reason) {
        self.panics.fetch_add(1, Ordering::Relaxed);
        self.listeners.emit(|name| Event::Panicked { name, reason });
    }

    /// Whether the classifier calls the call's own outcome a failure to replace (a panicking
    /// classifier replaces nothing).
    #[inline]
    fn classified<T, E>(&self, outcome: &Result<T, E>) -> bool
    where
        C: Classify<T, E>,
    {
        if !self.chosen(Reason::Classified) {
            return false;
        }
        match catch_unwind(AssertUnwindSafe(|| self.classifier.classify(outcome))) {
            Ok(verdict) => verdict == Verdict::Failure,
            Err(_) => {
                self.panicked(Reason::Classified);
                false
            }
        }
    }

    /// The call's own outcome, replaced if the classifier calls it a failure.
    #[inline]
    fn own<T, E, E2>(&self, outcome: Result<T, E>, wrap: impl FnOnce(E) -> E2) -> Result<T, E2>
    where
        F: Fn(Reason) -> T,
        C: Classify<T, E>,
    {
        if self.classified(&outcome)
            && let Some(value) = self.replace(Reason::Classified)
        {
            return Ok(value);
        }
        outcome.map_err(wrap)
    }

    /// The standalone door: an outcome of a standalone run, replaced if chosen.
    #[inline]
    pub(super) fn apply<T, E>(
        &self,
        outcome: Result<T, crate::Error<E>>,
    ) -> Result<T, crate::Error<E>>
    where
        F: Fn(Reason) -> T,
        C: Classify<T, E>,
    {
        let own = match outcome {
            Ok(value) => Ok(value),
            Err(crate::Error::Inner(e)) => Err(e),
            // Unreachable when no pattern with a rejection is built.
            #[allow(unreachable_patterns)]
            Err(rejection) => {
                if let Some(reason) = rejection_reason(&rejection)
                    && self.chosen(reason)
                    && let Some(value) = self.replace(reason)
                {
                    return Ok(value);
                }
                return Err(rejection);
            }
        };
        self.own(own, crate::Error::Inner)
    }

    /// The tower door: an outcome of the inner service, its error boxed, replaced if chosen.
    #[inline]
    pub(crate) fn apply_boxed<T>(&self, outcome: Result<T, BoxError>) -> Result<T, BoxError>
    where
        F: Fn(Reason) -> T,
        C: Classify<T, BoxError>,
    {
        if let Err(e) = &outcome
            && let Some(reason) = boxed_reason(&**e)
        {
            if self.chosen(reason)
                && let Some(value) = self.replace(reason)
            {
                return Ok(value);
            }
            return outcome;
        }
        self.own(outcome, |e| e)
    }

    pub(super) fn metrics(&self) -> Metrics {
        Metrics {
            used: std::array::from_fn(|i| self.used[i].load(Ordering::Relaxed)),
            panics: self.panics.load(Ordering::Relaxed),
        }
    }

    pub(super) fn chosen_reasons(&self) -> impl Iterator<Item = Reason> + '_ {
        Reason::ALL.into_iter().filter(|r| self.chosen(*r))
    }
}

/// Which rejection a standalone run's error is (`None` for the call's own error).
fn rejection_reason<E>(error: &crate::Error<E>) -> Option<Reason> {
    match error {
        #[cfg(feature = "circuit-breaker")]
        crate::Error::CircuitOpen(_) => Some(Reason::CircuitOpen),
        #[cfg(feature = "timeout")]
        crate::Error::Timeout(_) => Some(Reason::Timeout),
        #[cfg(feature = "bulkhead")]
        crate::Error::BulkheadFull(_) => Some(Reason::BulkheadFull),
        #[cfg(feature = "rate-limit")]
        crate::Error::RateLimited(_) => Some(Reason::RateLimited),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Which rejection a tower layer's boxed error is (`None` for any other error).
#[cfg_attr(
    not(any(
        feature = "circuit-breaker",
        feature = "timeout",
        feature = "bulkhead",
        feature = "rate-limit"
    )),
    allow(unused_variables)
)]
fn boxed_reason(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<Reason> {
    #[cfg(feature = "circuit-breaker")]
    if error.is::<crate::circuit_breaker::CircuitOpen>() {
        return Some(Reason::CircuitOpen);
    }
    #[cfg(feature = "timeout")]
    if error.is::<crate::timeout::Elapsed>() {
        return Some(Reason::Timeout);
    }
    #[cfg(feature = "bulkhead")]
    if error.is::<crate::bulkhead::BulkheadFull>() {
        return Some(Reason::BulkheadFull);
    }
    #[cfg(feature = "rate-limit")]
    if error.is::<crate::rate_limit::RateLimited>() {
        return Some(Reason::RateLimited);
    }
    None
}

impl<F, C> fmt::Debug for Shared<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("value", &std::any::type_name::<F>())
            .field("classifier", &std::any::type_name::<C>())
            .field("on", &self.chosen_reasons().collect::<Vec<_>>())
            .field("metrics", &self.metrics())
            .finish()
    }
}
