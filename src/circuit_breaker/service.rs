//! The tower service of the circuit breaker.

use super::future::ResponseFuture;
use super::handle::{Guard, LocalRef};
use super::{CircuitBreaker, CircuitOpen, State};
use crate::classify::{Classify, DefaultClassifier};
use crate::stripe::Lanes;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::Service;

/// A service guarded by a [`CircuitBreaker`]; made by [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
pub struct CircuitBreakerService<S, C = DefaultClassifier> {
    inner: S,
    /// This service's own references to the shared breaker, shared by its clones: a response
    /// future clones the one of its thread's stripe, whose count no other thread (mostly) and no
    /// service made by another `Layer::layer` call touches.
    lanes: Arc<Lanes<CircuitBreaker<C>>>,
    backpressure: bool,
    reserved: Option<Reserved<C>>,
    /// The timer of the backpressure mode, allocated the first time it waits.
    sleep: Option<Pin<Box<Sleep>>>,
}

/// The decision taken in `poll_ready`, carried to `call`.
enum Reserved<C> {
    Admitted(Guard<LocalRef<C>>),
    Rejected(CircuitOpen),
}

impl<S, C> CircuitBreakerService<S, C> {
    /// A service over `breaker` whose futures count their references in up to `lanes` lanes
    /// (rounded up to a power of two).
    pub(super) fn new(
        inner: S,
        breaker: CircuitBreaker<C>,
        backpressure: bool,
        lanes: usize,
    ) -> Self {
        Self {
            inner,
            lanes: Arc::new(Lanes::new(breaker, lanes)),
            backpressure,
            reserved: None,
            sleep: None,
        }
    }

    /// The breaker this service shares.
    pub fn breaker(&self) -> &CircuitBreaker<C> {
        self.lanes.value()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes this service, returning the inner one. A probe slot reserved by `poll_ready`
    /// is given back.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Waits out an open circuit in backpressure mode; true once the wait is over.
    fn poll_wait(&mut self, open: &CircuitOpen, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = Instant::now().checked_add(open.retry_after()) else {
            return false;
        };
        crate::sleep::arm(&mut self.sleep, deadline)
            .poll(cx)
            .is_ready()
    }
}

impl<S, C, Req> Service<Req> for CircuitBreakerService<S, C>
where
    S: Service<Req>,
    S::Error: Into<crate::BoxError>,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match self.reserved {
                Some(Reserved::Admitted(_)) => {
                    return self.inner.poll_ready(cx).map_err(Into::into);
                }
                Some(Reserved::Rejected(_)) => return Poll::Ready(Ok(())),
                None => {}
            }
            match self.lanes.value().core().acquire(!self.backpressure) {
                Ok(ticket) => {
                    self.reserved = Some(Reserved::Admitted(Guard::new(
                        self.lanes.home().clone(),
                        ticket,
                    )));
                    return self.inner.poll_ready(cx).map_err(Into::into);
                }
                Err(open) if self.backpressure && open.state() == State::Open => {
                    if !self.poll_wait(&open, cx) {
                        return Poll::Pending;
                    }
                }
                Err(open) => {
                    if self.backpressure {
                        self.lanes.value().core().count_rejection(&open);
                    }
                    self.reserved = Some(Reserved::Rejected(open));
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let reserved = match self.reserved.take() {
            Some(reserved) => reserved,
            // Called without `poll_ready`: decide now rather than panic.
            None => match self.lanes.value().core().acquire(true) {
                Ok(ticket) => Reserved::Admitted(Guard::new(self.lanes.home().clone(), ticket)),
                Err(open) => Reserved::Rejected(open),
            },
        };
        match reserved {
            Reserved::Admitted(mut guard) => {
                guard.begin();
                ResponseFuture::running(self.inner.call(req), guard)
            }
            Reserved::Rejected(open) => ResponseFuture::rejected(open),
        }
    }
}

#[cfg(feature = "keyed")]
impl<C> CircuitBreakerService<(), C> {
    /// A keyed breaker's door for one key: default mode, one lane (a lane per stripe for each
    /// of many keys would cost more memory than their calls save).
    pub(crate) fn door(breaker: CircuitBreaker<C>) -> Self {
        Self::new((), breaker, false, 1)
    }

    /// Decides a call to `ready` (a service made ready by the caller) as `call` does without
    /// `poll_ready`. A keyed breaker keeps one of these per key, so the calls of every keyed
    /// service share its reference to the breaker and allocate nothing.
    pub(crate) fn call_for<S, Req>(&self, mut ready: S, req: Req) -> ResponseFuture<S::Future, C>
    where
        S: Service<Req>,
    {
        match self.lanes.value().core().acquire(true) {
            Ok(ticket) => {
                let mut guard = Guard::new(self.lanes.home().clone(), ticket);
                guard.begin();
                ResponseFuture::running(ready.call(req), guard)
            }
            Err(open) => ResponseFuture::rejected(open),
        }
    }
}

impl<S: Clone, C> Clone for CircuitBreakerService<S, C> {
    /// The clone shares the breaker, through this service's reference to it (a reference count,
    /// no allocation: a retry layer above clones the service it wraps for every call); a
    /// reservation made by `self.poll_ready` is not carried over, so the clone must be made ready
    /// itself.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            lanes: Arc::clone(&self.lanes),
            backpressure: self.backpressure,
            reserved: None,
            sleep: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreakerService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reserved = match &self.reserved {
            None => "none",
            Some(Reserved::Admitted(_)) => "admitted",
            Some(Reserved::Rejected(_)) => "rejected",
        };
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.lanes.value())
            .field("backpressure", &self.backpressure)
            .field("reserved", &reserved)
            .finish()
    }
}
