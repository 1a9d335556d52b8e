//! The circuit breaker handle: the standalone door (`run`) and the source of tower layers.

use super::builder::{Builder, Config};
use super::core::{Core, Ticket};
use super::events::{Event, OpenReason};
use super::future::Run;
use super::{CircuitBreakerLayer, Metrics, State};
use crate::classify::{Classify, DefaultClassifier, Verdict};
use crate::event::Listeners;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// A circuit breaker: a cheap-to-clone handle to one shared state machine.
///
/// Every clone, every layer made by [`layer`](Self::layer) and every service those layers make
/// share the same circuit. See the [module docs](super) for the behaviour and examples.
///
/// ```
/// use bulwark::Error;
/// use bulwark::circuit_breaker::{CircuitBreaker, State};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(2)
///     .open_duration(Duration::from_secs(30))
///     .build()?;
/// for _ in 0..2 {
///     let _ = breaker.run(|| async { Err::<(), _>(std::io::Error::other("down")) }).await;
/// }
/// assert_eq!(breaker.state(), State::Open);
/// // Rejected without calling the dependency, with the time until it may be tried again.
/// match breaker.run(|| async { Ok::<_, std::io::Error>(()) }).await {
///     Err(Error::CircuitOpen(open)) => assert_eq!(open.retry_after(), Duration::from_secs(30)),
///     other => panic!("expected an open circuit, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
pub struct CircuitBreaker<C = DefaultClassifier> {
    shared: Arc<Shared<C>>,
}

struct Shared<C> {
    core: Core,
    classifier: C,
}

impl CircuitBreaker {
    /// A builder with the defaults listed on [`Builder`].
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C> CircuitBreaker<C> {
    pub(crate) fn from_parts(config: Config, classifier: C, listeners: Listeners<Event>) -> Self {
        Self {
            shared: Arc::new(Shared {
                core: Core::new(config, listeners),
                classifier,
            }),
        }
    }

    /// A breaker with this one's settings, classifier, name and listeners, closed and with an
    /// empty window (a keyed breaker's instance for a new key).
    #[cfg(feature = "keyed")]
    pub(crate) fn fresh(&self) -> Self
    where
        C: Clone,
    {
        let core = self.core();
        Self::from_parts(
            core.lock_transitions().config.clone(),
            self.shared.classifier.clone(),
            core.listeners.clone(),
        )
    }

    /// The breaker's [name](Builder::name).
    pub fn name(&self) -> &crate::Name {
        self.core().listeners.name()
    }

    pub(crate) fn core(&self) -> &Core {
        &self.shared.core
    }

    /// Runs the call `f` makes if the circuit admits it, and records its outcome.
    ///
    /// The circuit decides when `run` is called, as a tower service decides in `call`. When it
    /// rejects the call, `f` is not even invoked and the returned future resolves at once to
    /// [`Error::CircuitOpen`](crate::Error::CircuitOpen). Otherwise `f` is called at once, and
    /// the returned future classifies, records and returns its result, an error wrapped in
    /// [`Error::Inner`](crate::Error::Inner). Dropping the returned future before it completes
    /// gives back a half-open probe slot without counting the probe, and records a closed-state
    /// call as set by [`Builder::dropped_calls`].
    ///
    /// A [`Retry`](crate::retry::Retry) around this call recognises the rejection through its
    /// [`DefaultHint`](crate::retry::DefaultHint), as it does a
    /// [`CircuitOpen`](super::CircuitOpen) (hence `E: 'static`).
    pub fn run<F, Fut, T, E>(&self, f: F) -> Run<'_, Fut, C>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        E: 'static,
    {
        match self.core().acquire(true) {
            Ok(ticket) => {
                let mut guard = Guard::new(self, ticket);
                guard.begin();
                Run::running(f(), guard)
            }
            Err(open) => {
                #[cfg(feature = "retry")]
                crate::Error::<E>::register_open();
                Run::rejected(open)
            }
        }
    }

    /// A tower layer whose services all share this breaker.
    pub fn layer(&self) -> CircuitBreakerLayer<C> {
        CircuitBreakerLayer::new(self.clone())
    }

    /// The current state: one atomic load (and a clock read while half-open with a
    /// [`max_wait_in_half_open`](super::Builder::max_wait_in_half_open)).
    ///
    /// An open circuit becomes half-open when the first call arrives after the open duration,
    /// so `state()` reports [`State::Open`] until then. A half-open circuit that has not decided
    /// within `max_wait_in_half_open` is open from that moment: `state()` (like
    /// [`metrics`](Self::metrics) and any call) applies that transition if nothing did before, and
    /// never reports a stale [`State::HalfOpen`].
    pub fn state(&self) -> State {
        self.core().state()
    }

    /// A snapshot of the state, the window's counts, the half-open probes and the rejections;
    /// see [`Metrics`] for what the figures are in each state. Cheap: a few atomic loads (and,
    /// outside the closed states, the transition lock for a copy of the frozen figures).
    pub fn metrics(&self) -> Metrics {
        self.core().metrics()
    }

    /// A receiver that sees every state change.
    ///
    /// No timer runs inside the breaker: the transitions that fall due with time (open to
    /// half-open, a half-open timeout) are made by the first call or read that finds them due, and
    /// the receiver sees them then.
    pub fn subscribe(&self) -> watch::Receiver<State> {
        self.core().subscribe()
    }

    /// The classifier of call results.
    pub fn classifier(&self) -> &C {
        &self.shared.classifier
    }

    /// Opens the circuit until [`reset`](Self::reset): every call is rejected.
    ///
    /// Like every manual transition, calling it when the circuit is already forced open changes
    /// nothing: no [`Event::StateChanged`], no notification to [`subscribe`](Self::subscribe)
    /// receivers, and calls admitted before still complete as they would have.
    pub fn force_open(&self) {
        self.core()
            .transition(None, State::ForcedOpen, OpenReason::Manual);
    }

    /// Turns the breaker off until [`reset`](Self::reset): every call runs, nothing is recorded.
    /// A no-op when it is already disabled.
    pub fn disable(&self) {
        self.core()
            .transition(None, State::Disabled, OpenReason::Manual);
    }

    /// Records every call but never opens, until [`reset`](Self::reset). Entering this state
    /// starts an empty window; calling it again while in it changes nothing (the window is kept).
    pub fn metrics_only(&self) {
        self.core()
            .transition(None, State::MetricsOnly, OpenReason::Manual);
    }

    /// Closes the circuit with an empty window and the base open duration.
    ///
    /// On a circuit that is already closed, the window is emptied and the open duration goes back
    /// to its base all the same (calls in flight then complete unrecorded, as after any reset),
    /// but the state does not change: no [`Event::StateChanged`], no notification to
    /// [`subscribe`](Self::subscribe) receivers.
    pub fn reset(&self) {
        self.core()
            .transition(None, State::Closed, OpenReason::Manual);
    }
}

impl<C> Clone for CircuitBreaker<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<C> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("config", &self.core().config)
            .field("classifier", &std::any::type_name::<C>())
            .finish()
    }
}

/// Something that reaches a breaker's core: a borrow, or an owned handle.
pub(crate) trait CoreRef {
    fn core_ref(&self) -> &Core;
}

/// Something that reaches a whole breaker, core and classifier: the handle a standalone call
/// borrows, or a tower service's own reference.
pub(crate) trait BreakerRef: CoreRef {
    type Classifier;
    fn classifier(&self) -> &Self::Classifier;
}

impl<C> CoreRef for &CircuitBreaker<C> {
    fn core_ref(&self) -> &Core {
        self.core()
    }
}

impl<C> BreakerRef for &CircuitBreaker<C> {
    type Classifier = C;
    fn classifier(&self) -> &C {
        &self.shared.classifier
    }
}

impl CoreRef for &Core {
    fn core_ref(&self) -> &Core {
        self
    }
}

/// A tower service's own reference to its breaker, one per stripe of threads (see
/// `crate::stripe::Lanes`), shared by the service's clones. Padded to its own cache lines, so
/// that the reference counts of different lanes and services never share a line with each other
/// or with the breaker's.
pub(crate) type LocalRef<C> = crate::stripe::Lane<CircuitBreaker<C>>;

impl<C> CoreRef for LocalRef<C> {
    fn core_ref(&self) -> &Core {
        self.0.core()
    }
}

impl<C> BreakerRef for LocalRef<C> {
    type Classifier = C;
    fn classifier(&self) -> &C {
        &self.0.shared.classifier
    }
}

/// An admitted call: records its outcome when finished, gives its ticket back when dropped.
pub(crate) struct Guard<R: CoreRef> {
    owner: R,
    ticket: Option<Ticket>,
}

impl<R: CoreRef> Guard<R> {
    pub(crate) fn new(owner: R, ticket: Ticket) -> Self {
        Self {
            owner,
            ticket: Some(ticket),
        }
    }

    /// The call starts now (for the slow-call rule).
    pub(crate) fn begin(&mut self) {
        if let Some(ticket) = &mut self.ticket {
            self.owner.core_ref().start(ticket);
        }
    }

    pub(crate) fn finish(&mut self, outcome: Verdict) {
        if let Some(ticket) = self.ticket.take() {
            self.owner.core_ref().record(ticket, outcome);
        }
    }

    pub(crate) fn owner(&self) -> &R {
        &self.owner
    }
}

impl<R: CoreRef> Drop for Guard<R> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.owner.core_ref().release(ticket);
        }
    }
}

impl<R: CoreRef> fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("ticket", &self.ticket)
            .finish()
    }
}
