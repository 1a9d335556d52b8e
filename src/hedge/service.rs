//! The tower service of the hedge.

use super::Hedge;
use super::future::{Again, ResponseFuture};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// A service whose calls are hedged. Made by [`HedgeLayer`](super::HedgeLayer).
///
/// `poll_ready` is the inner service's. `call` sends the first attempt on the service that was
/// made ready, and keeps a clone of the service and of the request for the extra attempts: each
/// extra attempt is sent on its own clone of the service, made ready first (never an un-readied
/// clone). The errors are the inner service's: hedging adds none.
#[derive(Clone)]
pub struct HedgeService<S> {
    inner: S,
    hedge: Hedge,
}

impl<S> HedgeService<S> {
    pub(super) fn new(inner: S, hedge: Hedge) -> Self {
        Self { inner, hedge }
    }

    /// The hedge this service's calls go through.
    pub fn hedge(&self) -> &Hedge {
        &self.hedge
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

impl<S, Req> Service<Req> for HedgeService<S>
where
    S: Service<Req> + Clone,
    Req: Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let first = self.inner.call(request.clone());
        let again = Again::new(self.inner.clone(), request);
        ResponseFuture::new(Arc::clone(&self.hedge.shared), again, first)
    }
}

impl<S: fmt::Debug> fmt::Debug for HedgeService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeService")
            .field("inner", &self.inner)
            .field("hedge", &self.hedge)
            .finish()
    }
}
