//! Event listeners shared by every pattern.
//!
//! A pattern keeps a [`Listeners<E>`] next to its configuration. With no listener registered
//! (and without the `tracing` feature) emitting costs one branch: the event is never built.

// A build with no pattern feature has no events.
#![cfg_attr(
    not(any(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "saga",
        feature = "health",
        feature = "chaos"
    )),
    allow(dead_code)
)]

use std::fmt;
use std::sync::Arc;

type Listener<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// A pattern event that also knows how to report itself to `tracing`.
pub(crate) trait PatternEvent {
    /// Emits the event as a structured `tracing` event.
    #[cfg(feature = "tracing")]
    fn trace(&self);
}

/// The listeners registered on one pattern's builder. Cloning is cheap: an `Option<Arc>`.
pub(crate) struct Listeners<E> {
    list: Option<Arc<[Listener<E>]>>,
}

impl<E> Listeners<E> {
    pub(crate) const fn new() -> Self {
        Self { list: None }
    }

    /// Returns these listeners with `f` added.
    pub(crate) fn with(self, f: impl Fn(&E) + Send + Sync + 'static) -> Self {
        let mut list: Vec<Listener<E>> = self.list.map(|l| l.to_vec()).unwrap_or_default();
        list.push(Arc::new(f));
        Self {
            list: Some(list.into()),
        }
    }

    /// Whether an emitted event would be observed by anyone.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        cfg!(feature = "tracing") || self.list.is_some()
    }
}

impl<E: PatternEvent> Listeners<E> {
    /// Builds the event with `make` and delivers it, only if someone listens.
    ///
    /// Callers must not hold a lock: listeners are user code.
    #[inline]
    pub(crate) fn emit(&self, make: impl FnOnce() -> E) {
        if !self.is_active() {
            return;
        }
        let event = make();
        #[cfg(feature = "tracing")]
        event.trace();
        if let Some(list) = &self.list {
            for listener in list.iter() {
                listener(&event);
            }
        }
    }
}

impl<E> Clone for Listeners<E> {
    fn clone(&self) -> Self {
        Self {
            list: self.list.clone(),
        }
    }
}

impl<E> Default for Listeners<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Listeners<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.as_ref().map_or(0, |l| l.len());
        write!(f, "Listeners({n})")
    }
}
