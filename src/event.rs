//! Event listeners shared by every pattern.
//!
//! A pattern keeps a [`Listeners<E>`] next to its configuration. With no listener registered
//! (and without the `tracing` feature) emitting costs one branch: the event is never built.
//!
//! A listener is user code, and it must not be able to break the pattern it observes: each call
//! is wrapped in `catch_unwind`, so a listener that panics is reported (the panic hook prints it
//! as usual; with the `tracing` feature an error event says which listener's event it was) and
//! the other listeners still receive the event. Catching costs nothing until a panic happens.

// A build with no pattern feature has no events.
#![cfg_attr(
    not(any(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "rate-limit",
        feature = "saga",
        feature = "health",
        feature = "chaos"
    )),
    allow(dead_code)
)]

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
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
    /// Callers must not hold a lock: listeners are user code. A listener that panics does not
    /// unwind into the caller: the panic is caught and reported, and the next listener gets the
    /// event all the same.
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
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| listener(&event))) {
                    listener_panicked::<E>(&*panic);
                }
            }
        }
    }
}

/// Reports a listener's panic (the panic hook has printed it already) and carries on.
#[cold]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn listener_panicked<E>(panic: &(dyn std::any::Any + Send)) {
    #[cfg(feature = "tracing")]
    {
        let message = panic
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        tracing::error!(
            target: "bulwark::event",
            event = std::any::type_name::<E>(),
            panic = message,
            "an event listener panicked; the pattern and the other listeners carry on"
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug)]
    struct Ping(u32);

    impl PatternEvent for Ping {
        #[cfg(feature = "tracing")]
        fn trace(&self) {}
    }

    #[test]
    fn a_panicking_listener_neither_unwinds_into_the_emitter_nor_starves_the_others() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (before, after) = (seen.clone(), seen.clone());
        let listeners = Listeners::new()
            .with(move |e: &Ping| before.lock().unwrap().push(("before", e.0)))
            .with(|_: &Ping| panic!("listener bug"))
            .with(move |e: &Ping| after.lock().unwrap().push(("after", e.0)));
        listeners.emit(|| Ping(1));
        listeners.emit(|| Ping(2));
        assert_eq!(
            *seen.lock().unwrap(),
            [("before", 1), ("after", 1), ("before", 2), ("after", 2)]
        );
    }
}
