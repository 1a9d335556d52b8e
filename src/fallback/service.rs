//! The tower service of the fallback.

use super::future::ResponseFuture;
use super::{Fallback, Reason};
use crate::BoxError;
use crate::classify::Classify;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// A service whose chosen failures are replaced by a fallback's value. Made by
/// [`FallbackLayer`](super::FallbackLayer).
///
/// `poll_ready` is the inner service's (an error there is the inner service's to report: it
/// says the service is unusable, which no value replaces). Errors are boxed, as the layers
/// below box theirs, so their rejection structs can be recognised.
pub struct FallbackService<S, F, C> {
    inner: S,
    fallback: Fallback<F, C>,
}

impl<S, F, C> FallbackService<S, F, C> {
    pub(super) fn new(inner: S, fallback: Fallback<F, C>) -> Self {
        Self { inner, fallback }
    }

    /// The fallback this service's calls go through.
    pub fn fallback(&self) -> &Fallback<F, C> {
        &self.fallback
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

impl<S: Clone, F, C> Clone for FallbackService<S, F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            fallback: self.fallback.clone(),
        }
    }
}

impl<S, F, C, Req> Service<Req> for FallbackService<S, F, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    F: Fn(Reason) -> S::Response,
    C: Classify<S::Response, BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, F, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), Arc::clone(&self.fallback.shared))
    }
}

impl<S: fmt::Debug, F, C> fmt::Debug for FallbackService<S, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackService")
            .field("inner", &self.inner)
            .field("fallback", &self.fallback)
            .finish()
    }
}
