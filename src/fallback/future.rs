//! The one future of a fallback, and the tower response future built on it.

use super::Reason;
use super::state::Shared;
use crate::BoxError;
use crate::classify::Classify;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pin_project! {
    /// A call whose outcome a fallback may replace, returned by
    /// [`Fallback::run`](super::Fallback::run).
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<Fut, F, C> {
        #[pin]
        future: Fut,
        shared: Arc<Shared<F, C>>,
    }
}

impl<Fut, F, C> Run<Fut, F, C> {
    pub(super) fn new(future: Fut, shared: Arc<Shared<F, C>>) -> Self {
        Self { future, shared }
    }
}

impl<Fut, F, C, T, E> Future for Run<Fut, F, C>
where
    Fut: Future<Output = Result<T, crate::Error<E>>>,
    F: Fn(Reason) -> T,
    C: Classify<T, E>,
{
    type Output = Result<T, crate::Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = std::task::ready!(this.future.poll(cx));
        Poll::Ready(this.shared.apply(outcome))
    }
}

impl<Fut, F, C> fmt::Debug for Run<Fut, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("future", &std::any::type_name::<Fut>())
            .field("fallback", &self.shared)
            .finish()
    }
}

pin_project! {
    /// The response future of [`FallbackService`](super::FallbackService): the inner service's
    /// future, its error boxed, its outcome replaced if it is one of the chosen.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<Fut, F, C> {
        #[pin]
        future: Fut,
        shared: Arc<Shared<F, C>>,
    }
}

impl<Fut, F, C> ResponseFuture<Fut, F, C> {
    pub(super) fn new(future: Fut, shared: Arc<Shared<F, C>>) -> Self {
        Self { future, shared }
    }
}

impl<Fut, F, C, T, E> Future for ResponseFuture<Fut, F, C>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    F: Fn(Reason) -> T,
    C: Classify<T, BoxError>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = std::task::ready!(this.future.poll(cx)).map_err(Into::into);
        Poll::Ready(this.shared.apply_boxed(outcome))
    }
}

impl<Fut, F, C> fmt::Debug for ResponseFuture<Fut, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("future", &std::any::type_name::<Fut>())
            .field("fallback", &self.shared)
            .finish()
    }
}
