//! The tower service of the retry pattern.

use super::attempts::Attempts;
use super::future::{Again, ResponseFuture};
use super::{CloneRequest, DefaultHint, OnError, Reissue, Retry, RetryAfter, ShouldRetry};
use crate::BoxError;
use crate::backoff::{Backoff, MakeDelays};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// A service that retries failed calls; made by [`RetryLayer`](super::RetryLayer).
pub struct RetryService<S, B = Backoff, P = OnError, H = DefaultHint, K = CloneRequest> {
    inner: S,
    retry: Retry<B, P, H>,
    reissue: K,
}

impl<S, B, P, H, K> RetryService<S, B, P, H, K> {
    pub(crate) fn new(inner: S, retry: Retry<B, P, H>, reissue: K) -> Self {
        Self {
            inner,
            retry,
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
        let cfg = &self.retry.shared;
        let attempts = Attempts::start(cfg);
        // What a retry needs is set aside only if one may follow. The clone of the inner service
        // is not ready: the future drives it to readiness before every retry.
        let again = attempts.may_retry().then(|| Again {
            service: self.inner.clone(),
            reissue: self.reissue.clone(),
            request: self.reissue.keep(&request),
        });
        let future = self.inner.call(request);
        ResponseFuture::new(Arc::clone(cfg), attempts, again, future)
    }
}

impl<S: Clone, B, P, H, K: Clone> Clone for RetryService<S, B, P, H, K> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.retry.clone(), self.reissue.clone())
    }
}

impl<S: fmt::Debug, B, P, H, K: fmt::Debug> fmt::Debug for RetryService<S, B, P, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("retry", &self.retry)
            .field("reissue", &self.reissue)
            .finish()
    }
}
