//! The tower service of the timeout pattern.

use super::future::{ResponseFuture, Run};
use super::{DefaultTimeout, Elapsed, Event, RequestTimeout, TimeoutLayer};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::Service;

/// A service that fails calls taking longer than a timeout. Made by [`TimeoutLayer`].
pub struct TimeoutService<S, P = DefaultTimeout> {
    inner: S,
    config: TimeoutLayer<P>,
    ready: ReadyWait,
}

/// The state of a bounded wait for readiness; per clone, never shared.
#[derive(Default)]
struct ReadyWait {
    /// Allocated the first time the inner service is pending, then re-armed.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
    /// The wait ran out: the next call fails without calling the inner service.
    expired: bool,
}

impl<S, P> TimeoutService<S, P> {
    pub(crate) fn new(inner: S, config: TimeoutLayer<P>) -> Self {
        Self {
            inner,
            config,
            ready: ReadyWait::default(),
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

impl<S, P, Req> Service<Req> for TimeoutService<S, P>
where
    S: Service<Req>,
    S::Error: Into<crate::BoxError>,
    P: RequestTimeout<Req>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.ready.expired {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(r) => {
                self.ready.armed = false;
                Poll::Ready(r.map_err(Into::into))
            }
            Poll::Pending => {
                let Some(limit) = self.config.backpressure_timeout else {
                    return Poll::Pending;
                };
                if self.ready.poll_expired(limit, cx) {
                    self.config.listeners.emit(|name| Event::TimedOut {
                        name,
                        after: limit,
                        waiting_for_readiness: true,
                    });
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
        }
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        if self.ready.expired {
            self.ready.expired = false;
            let limit = self.config.backpressure_timeout.unwrap_or_default();
            return ResponseFuture::failed(Elapsed::readiness(
                limit,
                *self.config.listeners.name(),
            ));
        }
        let after = self
            .config
            .per_request
            .timeout_for(&req)
            .unwrap_or(self.config.timeout);
        let listeners = self.config.listeners.clone();
        // Built in one expression, so the inner future is written in place, not copied.
        ResponseFuture::running(Run::new(self.inner.call(req), after, listeners))
    }
}

impl ReadyWait {
    /// Arms the timer on the first pending poll of a wait; true once the wait ran out.
    fn poll_expired(&mut self, limit: std::time::Duration, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            self.armed = true;
            let Some(deadline) = Instant::now().checked_add(limit) else {
                self.sleep = None;
                return false;
            };
            crate::sleep::arm(&mut self.sleep, deadline);
        }
        let Some(sleep) = &mut self.sleep else {
            return false;
        };
        if sleep.as_mut().poll(cx).is_ready() {
            self.armed = false;
            self.expired = true;
            return true;
        }
        false
    }
}

impl<S: Clone, P: Clone> Clone for TimeoutService<S, P> {
    /// The clone shares nothing with `self` but the inner service's clone; a wait for readiness
    /// in progress is not carried over.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.config.clone())
    }
}

impl<S: fmt::Debug, P> fmt::Debug for TimeoutService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("ready_wait_armed", &self.ready.armed)
            .field("ready_wait_expired", &self.ready.expired)
            .finish()
    }
}
