//! The tower layer and service of the fault injector.

use super::future::ChaosFuture;
use super::{Chaos, Fault};
use std::fmt;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Injects faults into the services it wraps; made by [`Chaos::layer`]. Every service shares
/// the one injector.
pub struct ChaosLayer<E> {
    chaos: Chaos<E>,
}

impl<E> ChaosLayer<E> {
    pub(super) fn new(chaos: Chaos<E>) -> Self {
        Self { chaos }
    }
}

impl<S, E> Layer<S> for ChaosLayer<E> {
    type Service = ChaosService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        ChaosService {
            inner,
            chaos: self.chaos.clone(),
        }
    }
}

impl<E> Clone for ChaosLayer<E> {
    fn clone(&self) -> Self {
        Self::new(self.chaos.clone())
    }
}

impl<E> fmt::Debug for ChaosLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChaosLayer").field(&self.chaos).finish()
    }
}

/// A service with injected faults; made by [`ChaosLayer`].
pub struct ChaosService<S, E> {
    inner: S,
    chaos: Chaos<E>,
}

impl<S, E> ChaosService<S, E> {
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
        match self.chaos.draw() {
            Some(Fault::Error) => match self.chaos.make_error() {
                Some(e) => ChaosFuture::failed(e),
                None => ChaosFuture::new(self.inner.call(req), None),
            },
            fault => ChaosFuture::new(self.inner.call(req), fault),
        }
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
