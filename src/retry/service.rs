//! The tower service of the retry pattern.

use super::attempts::Attempts;
use super::future::{Again, ResponseFuture};
use super::{CloneRequest, DefaultHint, OnError, Reissue, Retry, RetryAfter, ShouldRetry};
use crate::BoxError;
use crate::backoff::{Backoff, MakeDelays};
use crate::stripe::Lanes;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// A service that retries failed calls; made by [`RetryLayer`](super::RetryLayer).
pub struct RetryService<S, B = Backoff, P = OnError, H = DefaultHint, K = CloneRequest> {
    inner: S,
    /// The retry, with a reference to it per stripe of threads for the response futures (shared
    /// by this service's clones).
    lanes: Arc<Lanes<Retry<B, P, H>>>,
    reissue: K,
}

impl<S, B, P, H, K> RetryService<S, B, P, H, K> {
    /// A service over `retry` whose calls count their references in up to `lanes` lanes (one
    /// per stripe of threads; see `crate::stripe::Lanes`).
    pub(crate) fn new(inner: S, retry: Retry<B, P, H>, reissue: K, lanes: usize) -> Self {
        Self {
            inner,
            lanes: Arc::new(Lanes::new(retry, lanes)),
            reissue,
        }
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

impl<S, Req, B, P, H, K> Service<Req> for RetryService<S, B, P, H, K>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    B: MakeDelays + Clone,
    P: ShouldRetry<S::Response, BoxError> + Clone,
    H: RetryAfter<S::Response, BoxError> + Clone,
    K: Reissue<Req> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req, B, P, H, K>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        respond(&self.lanes, &self.reissue, &mut self.inner, request)
    }
}

#[cfg(feature = "keyed")]
impl<B, P, H, K: Clone> RetryService<(), B, P, H, K> {
    /// Calls `ready` (a service made ready by the caller) as `call` does. A keyed retry keeps
    /// one of these per key (with one lane), so that keyed calls share its reference and
    /// allocate nothing.
    pub(crate) fn call_for<S, Req>(
        &self,
        mut ready: S,
        request: Req,
    ) -> ResponseFuture<S, Req, B, P, H, K>
    where
        S: Service<Req> + Clone,
        B: MakeDelays,
        K: Reissue<Req>,
    {
        respond(&self.lanes, &self.reissue, &mut ready, request)
    }
}

/// Calls `service`, ready, with `request` through the retry of the current thread's lane; what a
/// retry needs is set aside only if one may follow. The clone of the service kept for it is not
/// ready: the future drives it to readiness before every retry.
#[inline]
fn respond<S, Req, B, P, H, K>(
    lanes: &Lanes<Retry<B, P, H>>,
    reissue: &K,
    service: &mut S,
    request: Req,
) -> ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req> + Clone,
    B: MakeDelays,
    K: Reissue<Req> + Clone,
{
    let lane = lanes.home();
    let attempts = Attempts::start(&lane.shared);
    let again = attempts.may_retry().then(|| Again {
        service: service.clone(),
        reissue: reissue.clone(),
        request: reissue.keep(&request),
    });
    let future = service.call(request);
    ResponseFuture::new(Arc::clone(lane), attempts, again, future)
}

impl<S: Clone, B, P, H, K: Clone> Clone for RetryService<S, B, P, H, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            lanes: Arc::clone(&self.lanes),
            reissue: self.reissue.clone(),
        }
    }
}

impl<S: fmt::Debug, B, P, H, K: fmt::Debug> fmt::Debug for RetryService<S, B, P, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("retry", self.lanes.value())
            .field("reissue", &self.reissue)
            .finish()
    }
}
