//! The tower service of the pipeline.

use super::handle::{Parts, PartsLanes};
use super::hint::PipelineHint;
use super::{ApplyFallback, NoFallback, ResponseFuture};
use crate::BoxError;
use crate::backoff::{Backoff, MakeDelays};
use crate::classify::{Classify, DefaultClassifier};
use crate::retry::{CloneRequest, DefaultHint, OnError, Reissue, RetryAfter, ShouldRetry};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// A service whose calls run through a [`Pipeline`](super::Pipeline); made by
/// [`PipelineLayer`](super::PipelineLayer).
///
/// `poll_ready` is the inner service's. `call` takes the ready inner service into the response
/// future (leaving a clone in its place, as tower's `Retry` does), which calls it once the
/// breaker and the bulkhead admit the attempt, and drives it to readiness again before each
/// retry. Errors are `BoxError`s: the inner service's own, or [`Elapsed`](crate::timeout::Elapsed),
/// [`CircuitOpen`](crate::circuit_breaker::CircuitOpen) and
/// [`BulkheadFull`](crate::bulkhead::BulkheadFull) to downcast.
pub struct PipelineService<
    S,
    C = DefaultClassifier,
    B = Backoff,
    P = OnError,
    H = DefaultHint,
    K = CloneRequest,
    Fb = NoFallback,
> {
    inner: S,
    /// The parts, with a reference per stripe of threads for the response futures (shared by
    /// this service's clones).
    lanes: Arc<PartsLanes<C, B, P, H, Fb>>,
    reissue: K,
}

impl<S, C, B, P, H, K, Fb> PipelineService<S, C, B, P, H, K, Fb> {
    /// A service over `parts` whose calls count their references in up to `lanes` lanes (one
    /// per stripe of threads; see `crate::stripe::Lanes`).
    pub(crate) fn new(
        inner: S,
        parts: Arc<Parts<C, B, P, H, Fb>>,
        reissue: K,
        lanes: usize,
    ) -> Self {
        Self {
            inner,
            lanes: Arc::new(PartsLanes::new(parts, lanes)),
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

impl<S, Req, C, B, P, H, K, Fb> Service<Req> for PipelineService<S, C, B, P, H, K, Fb>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error>,
    B: MakeDelays,
    P: ShouldRetry<S::Response, BoxError>,
    H: RetryAfter<S::Response, BoxError>,
    PipelineHint<H>: RetryAfter<S::Response, BoxError>,
    K: Reissue<Req> + Clone,
    Fb: ApplyFallback<S::Response, BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req, K, C, B, P, H, Fb>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        // The ready service goes with the call; a clone (not ready) takes its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        self.call_for(ready, request)
    }
}

impl<T, C, B, P, H, K: Clone, Fb> PipelineService<T, C, B, P, H, K, Fb> {
    /// Calls `ready` (a service made ready by the caller) through the parts of the current
    /// thread's lane: what `call` does with the service it holds, and what a keyed pipeline does
    /// with its one-lane door per key, so that the calls of every keyed service share its
    /// reference and allocate nothing.
    #[inline]
    pub(crate) fn call_for<S, Req>(
        &self,
        ready: S,
        request: Req,
    ) -> ResponseFuture<S, Req, K, C, B, P, H, Fb>
    where
        S: Service<Req>,
        B: MakeDelays,
    {
        ResponseFuture::new(
            Arc::clone(self.lanes.home()),
            ready,
            self.reissue.clone(),
            request,
        )
    }
}

impl<S: Clone, C, B, P, H, K: Clone, Fb> Clone for PipelineService<S, C, B, P, H, K, Fb> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            lanes: Arc::clone(&self.lanes),
            reissue: self.reissue.clone(),
        }
    }
}

impl<S: fmt::Debug, C, B, P, H, K: fmt::Debug, Fb> fmt::Debug
    for PipelineService<S, C, B, P, H, K, Fb>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineService")
            .field("inner", &self.inner)
            .field("pipeline", self.lanes.value())
            .field("reissue", &self.reissue)
            .finish()
    }
}
