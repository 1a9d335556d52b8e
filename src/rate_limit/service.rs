//! The tower service of the rate limiter.

use super::RateLimiter;
use super::future::ResponseFuture;
use super::state::Admission;
use std::fmt;
use std::task::{Context, Poll};
use tower::Service;

/// A service whose calls each take a cell of a [`RateLimiter`]. Made by
/// [`RateLimitLayer`](super::RateLimitLayer).
///
/// `poll_ready` is the inner service's and takes nothing from the limit; each call is decided
/// in `call` (see [Backpressure](super#backpressure)). Every clone shares the one limit.
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S> RateLimitService<S> {
    pub(crate) fn new(inner: S, limiter: RateLimiter) -> Self {
        Self { inner, limiter }
    }

    /// The limiter this service's calls go through.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
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

impl<S, Req> Service<Req> for RateLimitService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<crate::BoxError>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Takes no cell: a service made ready and then not called (a balancer probing
        // readiness, a `Buffer` worker) must not spend the limit.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.limiter.shared.admit() {
            Admission::Now => ResponseFuture::running(self.inner.call(request)),
            Admission::Rejected(limited) => ResponseFuture::failed(limited),
            // The call waits for its turn in the response future with the service that was
            // made ready for it, leaving a fresh clone here.
            Admission::At { at, reservation } => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::waiting(at, reservation, ready, request)
            }
            // The same for a decision a round trip to Redis away.
            #[cfg(feature = "redis")]
            Admission::Ask(ask) => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::asking(ask, ready, request)
            }
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimitService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitService")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .finish()
    }
}
