//! The tower service of the fault injector.

use super::{Chaos, ChaosFuture};
use std::fmt;
use std::task::{Context, Poll};
use tower::Service;

/// A service with injected faults; made by [`ChaosLayer`](super::ChaosLayer).
pub struct ChaosService<S, E> {
    inner: S,
    chaos: Chaos<E>,
}

impl<S, E> ChaosService<S, E> {
    pub(super) fn new(inner: S, chaos: Chaos<E>) -> Self {
        Self { inner, chaos }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes this service, returning the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, E> Service<Req> for ChaosService<S, E>
where
    S: Service<Req, Error = E>,
{
    type Response = S::Response;
    type Error = E;
    type Future = ChaosFuture<S::Future, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = &mut self.inner;
        self.chaos.start(|| inner.call(req))
    }
}

impl<S: Clone, E> Clone for ChaosService<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            chaos: self.chaos.clone(),
        }
    }
}

impl<S: fmt::Debug, E> fmt::Debug for ChaosService<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosService")
            .field("inner", &self.inner)
            .field("chaos", &self.chaos)
            .finish()
    }
}
