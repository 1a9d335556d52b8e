//! The one future of the rate limiter, and the tower response future built on it.

use super::RateLimited;
use super::state::{Admission, Reservation, Shared};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::Service;

#[cfg(feature = "redis")]
type Ask = super::redis::Ask;
/// Never built without the `redis` feature.
#[cfg(not(feature = "redis"))]
type Ask = std::future::Pending<Admission>;

/// What a call runs once admitted: the standalone closure, or the tower call deferred with the
/// service that was made ready for it.
pub(crate) trait Start {
    /// The call's future.
    type Future;
    /// Starts the call.
    fn start(self) -> Self::Future;
}

impl<F: FnOnce() -> Fut, Fut> Start for F {
    type Future = Fut;

    #[inline]
    fn start(self) -> Fut {
        self()
    }
}

pin_project! {
    /// A call run through a rate limiter, returned by [`RateLimiter::run`](super::RateLimiter::run).
    ///
    /// At its first poll it is decided: admitted (it calls the closure and polls its future),
    /// turned away, or scheduled for a turn at most `max_wait` away, which it waits for before
    /// calling the closure. Dropping it while it waits cancels the wait; see
    /// [Cancellation](super#cancellation) for what that gives back.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F, Fut> {
        #[pin]
        state: State<F, Fut>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Fut> {
        Deciding { shared: Arc<Shared>, call: Option<F> },
        // A decision a round trip away (Redis).
        Asking { ask: Ask, call: Option<F> },
        Waiting { #[pin] sleep: Sleep, reservation: Option<Reservation>, call: Option<F> },
        Running { #[pin] future: Fut },
        Failed { error: Option<RateLimited> },
        Done,
    }
}

impl<F, Fut> Run<F, Fut> {
    /// A call decided at its first poll.
    pub(super) fn new(shared: Arc<Shared>, call: F) -> Self {
        Self {
            state: State::Deciding {
                shared,
                call: Some(call),
            },
        }
    }

    /// A call already admitted and started.
    pub(super) fn running(future: Fut) -> Self {
        Self {
            state: State::Running { future },
        }
    }

    /// A call scheduled for `at`.
    pub(super) fn waiting(at: Instant, reservation: Reservation, call: F) -> Self {
        Self {
            state: State::Waiting {
                sleep: tokio::time::sleep_until(at),
                reservation: Some(reservation),
                call: Some(call),
            },
        }
    }

    /// A call already turned away.
    pub(super) fn failed(error: RateLimited) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }

    /// The state machine of every door: the call's own result, or the rejection.
    #[inline]
    fn poll_call<T, E>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Result<T, E>, RateLimited>>
    where
        F: Start<Future = Fut>,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Deciding { shared, call } => {
                    let (admission, call) = (shared.admit(), call.take());
                    if let Err(error) = Self::admitted(state.as_mut(), admission, call) {
                        return Poll::Ready(Err(error));
                    }
                }
                StateProj::Asking { ask, call } => {
                    let admission = std::task::ready!(Pin::new(ask).poll(cx));
                    let call = call.take();
                    if let Err(error) = Self::admitted(state.as_mut(), admission, call) {
                        return Poll::Ready(Err(error));
                    }
                }
                StateProj::Waiting {
                    sleep,
                    reservation,
                    call,
                } => {
                    std::task::ready!(sleep.poll(cx));
                    if let Some(reservation) = reservation.take() {
                        reservation.complete();
                    }
                    let Some(call) = call.take() else {
                        state.set(State::Done);
                        return Poll::Pending;
                    };
                    state.set(State::Running {
                        future: call.start(),
                    });
                }
                StateProj::Running { future } => {
                    let out = std::task::ready!(future.poll(cx));
                    state.set(State::Done);
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

    /// Moves to the state `admission` calls for.
    fn admitted(
        mut state: Pin<&mut State<F, Fut>>,
        admission: Admission,
        call: Option<F>,
    ) -> Result<(), RateLimited>
    where
        F: Start<Future = Fut>,
    {
        let Some(call) = call else {
            state.set(State::Done);
            return Ok(());
        };
        match admission {
            Admission::Now => state.set(State::Running {
                future: call.start(),
            }),
            Admission::At { at, reservation } => state.set(State::Waiting {
                sleep: tokio::time::sleep_until(at),
                reservation: Some(reservation),
                call: Some(call),
            }),
            Admission::Rejected(error) => {
                state.set(State::Done);
                return Err(error);
            }
            #[cfg(feature = "redis")]
            Admission::Ask(ask) => state.set(State::Asking {
                ask,
                call: Some(call),
            }),
        }
        Ok(())
    }

    /// A call whose decision is a round trip away.
    #[cfg(feature = "redis")]
    pub(super) fn asking(ask: Ask, call: F) -> Self {
        Self {
            state: State::Asking {
                ask,
                call: Some(call),
            },
        }
    }

    fn state_name(&self) -> &'static str {
        match &self.state {
            State::Deciding { .. } => "deciding",
            State::Asking { .. } => "asking",
            State::Waiting { .. } => "waiting",
            State::Running { .. } => "running",
            State::Failed { .. } => "failed",
            State::Done => "done",
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
            Err(limited) => Err(crate::Error::RateLimited(limited)),
        })
    }
}

impl<F, Fut> fmt::Debug for Run<F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("call", &std::any::type_name::<F>())
            .field("state", &self.state_name())
            .finish()
    }
}

/// A tower call waiting for its turn, with the service that was made ready for it.
pub(crate) struct Deferred<S, Req> {
    service: S,
    request: Req,
}

impl<S: Service<Req>, Req> Start for Deferred<S, Req> {
    type Future = S::Future;

    fn start(mut self) -> S::Future {
        // `service` is the clone that was made ready before `call`.
        self.service.call(self.request)
    }
}

pin_project! {
    /// The response future of [`RateLimitService`](super::RateLimitService): the limiter's one
    /// future ([`Run`]) with the errors boxed, as tower's are.
    ///
    /// A call scheduled for a later turn waits here with the service that was made ready for
    /// it, and calls that service when its turn comes.
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
    pub(super) fn running(future: S::Future) -> Self {
        Self {
            run: Run::running(future),
        }
    }

    pub(super) fn waiting(at: Instant, reservation: Reservation, service: S, request: Req) -> Self {
        Self {
            run: Run::waiting(at, reservation, Deferred { service, request }),
        }
    }

    pub(super) fn failed(error: RateLimited) -> Self {
        Self {
            run: Run::failed(error),
        }
    }

    #[cfg(feature = "redis")]
    pub(super) fn asking(ask: Ask, service: S, request: Req) -> Self {
        Self {
            run: Run::asking(ask, Deferred { service, request }),
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
            Err(limited) => Err(limited.into()),
        })
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("state", &self.run.state_name())
            .finish()
    }
}
