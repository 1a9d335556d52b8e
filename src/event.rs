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

use crate::Name;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

type Listener<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// A pattern event that also knows how to report itself to `tracing` and to `metrics`.
pub(crate) trait PatternEvent {
    /// Emits the event as a structured `tracing` event.
    #[cfg(feature = "tracing")]
    fn trace(&self);

    /// The instance's metric handles, registered once (with the instance's name as a label)
    /// when the instance is built.
    #[cfg(feature = "metrics")]
    type Instruments: Send + Sync + 'static;

    /// Registers the instance's metric handles.
    #[cfg(feature = "metrics")]
    #[allow(dead_code)] // Unused when the timeout is the only pattern (see `finish`).
    fn instruments(name: &Name) -> Self::Instruments;

    /// Records the event on the instance's metric handles (`None`: the instance registered
    /// none, so the event registers what it needs itself).
    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Self::Instruments>);
}

/// The name of one pattern instance, the listeners registered on its builder and (with the
/// `metrics` feature) its metric handles. Two words and a tag: a name (copied or an `Arc`) and an
/// `Option<Arc>`, `None` (nothing to count on a clone) while there is no listener and no handle.
pub(crate) struct Listeners<E: PatternEvent> {
    name: Name,
    shared: Option<Arc<Shared<E>>>,
}

struct Shared<E: PatternEvent> {
    list: Vec<Listener<E>>,
    #[cfg(feature = "metrics")]
    instruments: Option<E::Instruments>,
}

impl<E: PatternEvent> Listeners<E> {
    /// No listeners, named `kind` (the pattern's kind, its default name).
    pub(crate) const fn new(kind: &'static &'static str) -> Self {
        Self {
            name: Name::from_static(kind),
            shared: None,
        }
    }

    fn list(&self) -> &[Listener<E>] {
        self.shared.as_ref().map_or(&[], |s| &s.list)
    }

    /// These listeners' list with `instruments` (metric handles are never carried over: they
    /// are registered last, by `finish`).
    fn rebuild(
        name: Name,
        list: Vec<Listener<E>>,
        #[cfg(feature = "metrics")] instruments: Option<E::Instruments>,
    ) -> Self {
        #[cfg(feature = "metrics")]
        let empty = list.is_empty() && instruments.is_none();
        #[cfg(not(feature = "metrics"))]
        let empty = list.is_empty();
        let shared = (!empty).then(|| {
            Arc::new(Shared {
                list,
                #[cfg(feature = "metrics")]
                instruments,
            })
        });
        Self { name, shared }
    }

    /// Returns these listeners with `f` added.
    pub(crate) fn with(self, f: impl Fn(&E) + Send + Sync + 'static) -> Self {
        let mut list = self.list().to_vec();
        list.push(Arc::new(f));
        Self::rebuild(
            self.name,
            list,
            #[cfg(feature = "metrics")]
            None,
        )
    }

    /// Returns these listeners for an instance named `name` (metric handles not registered).
    pub(crate) fn named(self, name: Name) -> Self {
        let list = self.list().to_vec();
        Self::rebuild(
            name,
            list,
            #[cfg(feature = "metrics")]
            None,
        )
    }

    /// Registers the instance's metric handles (with the `metrics` feature), once the name is
    /// final: called by `build()`.
    #[must_use]
    #[allow(dead_code)] // A timeout has no build step: its one counter is looked up when it fires.
    pub(crate) fn finish(self) -> Self {
        #[cfg(feature = "metrics")]
        {
            let list = self.list().to_vec();
            let instruments = Some(E::instruments(&self.name));
            Self::rebuild(self.name, list, instruments)
        }
        #[cfg(not(feature = "metrics"))]
        self
    }

    /// The instance's name.
    #[inline]
    #[allow(dead_code)] // Not every pattern reads its own name back.
    pub(crate) fn name(&self) -> &Name {
        &self.name
    }

    /// The instance's metric handles, if registered.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn instruments(&self) -> Option<&E::Instruments> {
        self.shared.as_ref().and_then(|s| s.instruments.as_ref())
    }

    /// Whether an emitted event would be observed by anyone.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        cfg!(feature = "tracing") || cfg!(feature = "metrics") || self.shared.is_some()
    }

    /// Builds the event with `make` (given the instance's name) and delivers it, only if
    /// someone listens.
    ///
    /// Callers must not hold a lock: listeners are user code. A listener that panics does not
    /// unwind into the caller: the panic is caught and reported, and the next listener gets the
    /// event all the same.
    #[inline]
    pub(crate) fn emit(&self, make: impl FnOnce(Name) -> E) {
        if !self.is_active() {
            return;
        }
        let event = make(self.name);
        #[cfg(feature = "tracing")]
        event.trace();
        #[cfg(feature = "metrics")]
        event.record(self.instruments());
        for listener in self.list() {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| listener(&event))) {
                listener_panicked::<E>(&*panic);
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

impl<E: PatternEvent> Clone for Listeners<E> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            shared: self.shared.clone(),
        }
    }
}

impl<E: PatternEvent> fmt::Debug for Listeners<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list().len();
        write!(f, "Listeners({:?}, {n})", self.name)
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
        #[cfg(feature = "metrics")]
        type Instruments = ();
        #[cfg(feature = "metrics")]
        fn instruments(_: &Name) {}
        #[cfg(feature = "metrics")]
        fn record(&self, _: Option<&()>) {}
    }

    #[test]
    fn a_panicking_listener_neither_unwinds_into_the_emitter_nor_starves_the_others() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (before, after) = (seen.clone(), seen.clone());
        let listeners = Listeners::new(&"ping")
            .with(move |e: &Ping| before.lock().unwrap().push(("before", e.0)))
            .with(|_: &Ping| panic!("listener bug"))
            .with(move |e: &Ping| after.lock().unwrap().push(("after", e.0)));
        listeners.emit(|_| Ping(1));
        listeners.emit(|_| Ping(2));
        assert_eq!(
            *seen.lock().unwrap(),
            [("before", 1), ("after", 1), ("before", 2), ("after", 2)]
        );
    }
}
