//! The one future of the bulkhead pattern, and the tower response future built on it.

use super::BulkheadFull;
use super::acquire::Acquire;
use super::state::Permit;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::Service;

pub(crate) use crate::start::Start;

pin_project! {
    /// A call run through a bulkhead, returned by [`Bulkhead::run`](super::Bulkhead::run).
    ///
    /// At its first poll it takes a slot (or joins the queue, or is turned away); once admitted it
    /// calls the closure and polls its future, and releases the slot as soon as that future
    /// completes (once it is dropped). Dropping it at any point leaves the queue or frees the
    /// slot (the call's future dropped first).
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F, Fut> {
        #[pin]
        state: State<F, Fut>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Fut> {
        Admitting { #[pin] acquire: Acquire, call: Option<F> },
        Running { #[pin] future: Fut, permit: Option<Permit> },
        Failed { error: Option<BulkheadFull> },
        Done,
    }
}

impl<F, Fut> Run<F, Fut> {
    /// A call that takes its slot at its first poll, waiting in the queue if it must.
    pub(super) fn new(acquire: Acquire, call: F) -> Self {
        Self {
            state: State::Admitting {
                acquire,
                call: Some(call),
            },
        }
    }

    /// A call already admitted, holding `permit`.
    pub(super) fn running(future: Fut, mut permit: Permit) -> Self {
        // Reported when it completes; dropped before, it was cancelled and is not reported.
        permit.explicit();
        Self {
            state: State::Running {
                future,
                permit: Some(permit),
            },
        }
    }

    /// A call already turned away.
    pub(super) fn failed(error: BulkheadFull) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }

    /// The state machine of every door: the call's own result, or the rejection.
    #[inline]
    fn poll_call<T, E>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Result<T, E>, BulkheadFull>>
    where
        F: Start<Future = Fut>,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Admitting { acquire, call } => {
                    let mut permit = match std::task::ready!(acquire.poll(cx)) {
                        Ok(permit) => permit,
                        Err(full) => {
                            state.set(State::Done);
                            return Poll::Ready(Err(full));
                        }
                    };
                    let Some(call) = call.take() else {
                        state.set(State::Done);
                        return Poll::Pending;
                    };
                    let future = call.start();
                    permit.explicit();
                    state.set(State::Running {
                        future,
                        permit: Some(permit),
                    });
                }
                StateProj::Running { future, permit } => {
                    let out = std::task::ready!(future.poll(cx));
                    // Frees the slot now, not when this future is dropped (reporting the
                    // outcome to an adaptive limit: an error is a drop), and after the call's
                    // own future is gone, as when the call is dropped while it runs.
                    let permit = permit.take();
                    state.set(State::Done);
                    if let Some(permit) = permit {
                        permit.finish(out.is_err());
                    }
                    return Poll::Ready(Ok(out));
                }
                StateProj::Failed { error } => {
                    let Some(error) = error.take() else {
                        return Poll::Pending;
                    };
                    state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
                StateProj::Done => return Poll::Pending,
            }
        }
    }
}

impl<F, Fut, T, E> Future for Run<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, crate::Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match std::task::ready!(self.poll_call(cx)) {
            Ok(out) => out.map_err(crate::Error::Inner),
            Err(full) => Err(crate::Error::BulkheadFull(full)),
        })
    }
}

impl<F, Fut> fmt::Debug for Run<F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Admitting { .. } => "admitting",
            State::Running { .. } => "running",
            State::Failed { .. } => "failed",
            State::Done => "done",
        };
        f.debug_struct("Run")
            .field("call", &std::any::type_name::<F>())
            .field("state", &state)
            .finish()
    }
}

/// A tower call waiting for a slot, with the service that was made ready for it. Boxed: only a
/// call that found no free slot pays for it, and the response future stays small.
pub(crate) struct Deferred<S, Req>(Box<(S, Req)>);

impl<S: Service<Req>, Req> Start for Deferred<S, Req> {
    type Future = S::Future;

    fn start(self) -> S::Future {
        let (mut service, request) = *self.0;
        // `service` is the clone that was made ready before `call`.
        service.call(request)
    }
}

pin_project! {
    /// The response future of [`BulkheadService`](super::BulkheadService): the bulkhead's one
    /// future ([`Run`]) with the errors boxed, as tower's are.
    ///
    /// In the default mode a call that found no free slot waits here, in the bounded queue, with
    /// the service that was made ready for it; once admitted, it calls that service. The slot is
    /// released when the inner future completes or this future is dropped.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        run: Run<Deferred<S, Req>, S::Future>,
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(super) fn running(future: S::Future, permit: Permit) -> Self {
        Self {
            run: Run::running(future, permit),
        }
    }

    pub(super) fn queued(acquire: Acquire, service: S, request: Req) -> Self {
        Self {
            run: Run::new(acquire, Deferred(Box::new((service, request)))),
        }
    }

    pub(super) fn failed(error: BulkheadFull) -> Self {
        Self {
            run: Run::failed(error),
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<crate::BoxError>,
{
    type Output = Result<S::Response, crate::BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match std::task::ready!(self.project().run.poll_call(cx)) {
            Ok(out) => out.map_err(Into::into),
            Err(full) => Err(full.into()),
        })
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.run.state {
            State::Admitting { .. } => "queued",
            State::Running { .. } => "running",
            State::Failed { .. } => "failed",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
