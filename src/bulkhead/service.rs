//! The tower service of the bulkhead pattern.

use super::acquire::Acquire;
use super::future::ResponseFuture;
use super::state::Permit;
use super::{Bulkhead, BulkheadFull};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::Service;

/// A service whose calls go through a [`Bulkhead`]. Made by [`BulkheadLayer`](super::BulkheadLayer).
///
/// The bulkhead is shared by every clone; a slot reserved by `poll_ready` (backpressure mode) or a
/// wait for one belongs to this clone only and is not carried over by `clone`.
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
    backpressure: bool,
    /// Backpressure mode: what `poll_ready` reserved for the next call.
    reserved: Option<Result<Permit, BulkheadFull>>,
    /// Backpressure mode: a wait for a slot in progress.
    waiting: Option<Acquire>,
}

impl<S> BulkheadService<S> {
    pub(super) fn new(inner: S, bulkhead: Bulkhead, backpressure: bool) -> Self {
        Self {
            inner,
            bulkhead,
            backpressure,
            reserved: None,
            waiting: None,
        }
    }

    /// The bulkhead this service's calls go through.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes this service, returning the inner one. A reserved slot is released.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Backpressure mode: reserves a slot, or learns that none can be had.
    fn poll_reserve(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.reserved.is_some() {
            return Poll::Ready(());
        }
        let waiting = match &mut self.waiting {
            Some(waiting) => waiting,
            None => {
                if let Some(mut permit) = self.bulkhead.lanes.try_admit() {
                    // A reservation dropped before its call was never a call: not reported.
                    permit.explicit();
                    self.reserved = Some(Ok(permit));
                    return Poll::Ready(());
                }
                self.waiting.insert(self.bulkhead.acquire())
            }
        };
        let result = std::task::ready!(Pin::new(waiting).poll(cx));
        self.waiting = None;
        self.reserved = Some(result.map(|mut permit| {
            permit.explicit();
            permit
        }));
        Poll::Ready(())
    }
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<crate::BoxError>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<S, Req>;

    #[inline(always)]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.backpressure {
            std::task::ready!(self.poll_reserve(cx));
            if let Some(Err(_)) = self.reserved {
                // The call will fail without using the inner service.
                return Poll::Ready(Ok(()));
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline(always)]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.reserved.take() {
            Some(Ok(mut permit)) => {
                // The slot may have been reserved long before this call.
                permit.restart();
                ResponseFuture::running(self.inner.call(request), permit)
            }
            Some(Err(full)) => ResponseFuture::failed(full),
            // Default mode (or a call without `poll_ready`): take a free slot now, or wait for one
            // inside the response future with the service that was made ready, leaving a fresh
            // clone here.
            None => match self.bulkhead.lanes.try_admit() {
                Some(permit) => ResponseFuture::running(self.inner.call(request), permit),
                None => {
                    let clone = self.inner.clone();
                    let ready = std::mem::replace(&mut self.inner, clone);
                    ResponseFuture::queued(self.bulkhead.acquire(), ready, request)
                }
            },
        }
    }
}

impl<S: Clone> Clone for BulkheadService<S> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.bulkhead.clone(), self.backpressure)
    }
}

impl<S: fmt::Debug> fmt::Debug for BulkheadService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadService")
            .field("inner", &self.inner)
            .field("bulkhead", &self.bulkhead)
            .field("backpressure", &self.backpressure)
            .field("reserved", &self.reserved.as_ref().map(|r| r.is_ok()))
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}
