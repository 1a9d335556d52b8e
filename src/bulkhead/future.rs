//! The futures of the bulkhead pattern.

use super::acquire::Acquire;
use super::state::Permit;
use super::{BulkheadError, BulkheadFull};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::Service;

pin_project! {
    /// A call run through a bulkhead, returned by [`Bulkhead::run`](super::Bulkhead::run).
    ///
    /// At its first poll it takes a slot (or joins the queue, or is turned away); once admitted it
    /// calls the closure and polls its future, and releases the slot as soon as that future
    /// completes. Dropping it at any point leaves the queue or frees the slot.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F, Fut> {
        #[pin]
        state: RunState<F, Fut>,
    }
}

pin_project! {
    #[project = RunProj]
    enum RunState<F, Fut> {
        Admitting { #[pin] acquire: Acquire, f: Option<F> },
        Running { #[pin] future: Fut, permit: Permit },
        Done,
    }
}

impl<F, Fut> Run<F, Fut> {
    pub(super) fn new(acquire: Acquire, f: F) -> Self {
        Self {
            state: RunState::Admitting {
                acquire,
                f: Some(f),
            },
        }
    }
}

impl<F, Fut, T, E> Future for Run<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, BulkheadError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                RunProj::Admitting { acquire, f } => {
                    let permit = match acquire.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(permit)) => permit,
                        Poll::Ready(Err(full)) => {
                            state.set(RunState::Done);
                            return Poll::Ready(Err(BulkheadError::Full(full)));
                        }
                    };
                    let Some(f) = f.take() else {
                        state.set(RunState::Done);
                        return Poll::Pending;
                    };
                    let future = f();
                    state.set(RunState::Running { future, permit });
                }
                RunProj::Running { future, .. } => {
                    let out = match future.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(out) => out,
                    };
                    // Frees the slot now, not when this future is dropped.
                    state.set(RunState::Done);
                    return Poll::Ready(out.map_err(BulkheadError::Inner));
                }
                RunProj::Done => return Poll::Pending,
            }
        }
    }
}

impl<F, Fut> fmt::Debug for Run<F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            RunState::Admitting { .. } => "admitting",
            RunState::Running { .. } => "running",
            RunState::Done => "done",
        };
        f.debug_struct("Run")
            .field("call", &std::any::type_name::<F>())
            .field("state", &state)
            .finish()
    }
}

pin_project! {
    /// The response future of [`BulkheadService`](super::BulkheadService).
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
        state: State<S, Req>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req>
    where
        S: Service<Req>,
    {
        // Boxed: only a call that found no free slot pays for it, and the future stays small.
        Queued { queued: Box<Queued<S, Req>> },
        Running { #[pin] future: S::Future, permit: Option<Permit> },
        Failed { error: Option<BulkheadFull> },
        Done,
    }
}

/// A call waiting for a slot, with the service made ready for it.
struct Queued<S, Req> {
    acquire: Acquire,
    call: Option<(S, Req)>,
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(super) fn running(future: S::Future, permit: Permit) -> Self {
        Self {
            state: State::Running {
                future,
                permit: Some(permit),
            },
        }
    }

    pub(super) fn queued(acquire: Acquire, service: S, request: Req) -> Self {
        Self {
            state: State::Queued {
                queued: Box::new(Queued {
                    acquire,
                    call: Some((service, request)),
                }),
            },
        }
    }

    pub(super) fn failed(error: BulkheadFull) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
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
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Queued { queued } => {
                    let permit = match Pin::new(&mut queued.acquire).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(permit)) => permit,
                        Poll::Ready(Err(full)) => {
                            state.set(State::Done);
                            return Poll::Ready(Err(full.into()));
                        }
                    };
                    let Some((mut service, request)) = queued.call.take() else {
                        state.set(State::Done);
                        return Poll::Pending;
                    };
                    // `service` is the clone that was made ready before `call`.
                    let future = service.call(request);
                    state.set(State::Running {
                        future,
                        permit: Some(permit),
                    });
                }
                StateProj::Running { future, permit } => {
                    let out = std::task::ready!(future.poll(cx));
                    // Frees the slot now, not when this future is dropped.
                    drop(permit.take());
                    return Poll::Ready(out.map_err(Into::into));
                }
                StateProj::Failed { error } => {
                    let Some(error) = error.take() else {
                        return Poll::Pending;
                    };
                    state.set(State::Done);
                    return Poll::Ready(Err(error.into()));
                }
                StateProj::Done => return Poll::Pending,
            }
        }
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Queued { .. } => "queued",
            State::Running { .. } => "running",
            State::Failed { .. } => "failed",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
