//! The one future of the circuit breaker, and the tower response future built on it.

use super::handle::{BreakerRef, Guard, LocalRef};
use super::{CircuitBreaker, CircuitOpen};
use crate::classify::Classify;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The breaker's one state machine, under both doors: a call admitted (its guard reports to
    /// the breaker `R`) or rejected. Classifies and records the call's result when it completes;
    /// dropped before that, its guard gives the ticket back.
    pub(crate) struct Call<F, R: BreakerRef> {
        #[pin]
        kind: Kind<F>,
        guard: Option<Guard<R>>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Running { #[pin] future: F },
        Rejected { error: Option<CircuitOpen> },
    }
}

impl<F, R: BreakerRef> Call<F, R> {
    /// An admitted call, already begun.
    #[inline]
    pub(super) fn running(future: F, guard: Guard<R>) -> Self {
        Self {
            kind: Kind::Running { future },
            guard: Some(guard),
        }
    }

    /// A call the circuit rejected.
    pub(super) fn rejected(error: CircuitOpen) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
            guard: None,
        }
    }

    /// The state machine of both doors: the call's own result (classified and recorded), or the
    /// rejection.
    fn poll_call<T, E>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Result<T, E>, CircuitOpen>>
    where
        F: Future<Output = Result<T, E>>,
        R::Classifier: Classify<T, E>,
    {
        let this = self.project();
        match this.kind.project() {
            KindProj::Running { future } => {
                let result = std::task::ready!(future.poll(cx));
                // Recorded in place (moving the guard out first copies it), then let go.
                if let Some(guard) = this.guard.as_mut() {
                    let verdict = guard.owner().classifier().classify(&result);
                    guard.finish(verdict);
                    *this.guard = None;
                }
                Poll::Ready(Ok(result))
            }
            KindProj::Rejected { error } => match error.take() {
                Some(open) => Poll::Ready(Err(open)),
                None => Poll::Pending,
            },
        }
    }
}

pin_project! {
    /// A call through a circuit breaker, returned by
    /// [`CircuitBreaker::run`](super::CircuitBreaker::run).
    ///
    /// Classifies and records the call's result when it completes. Dropped before that, it gives
    /// back its half-open probe slot (and, in the closed state, records the call as set by
    /// [`Builder::dropped_calls`](super::Builder::dropped_calls)). A rejected call resolves at
    /// once, without having run.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, F, C> {
        #[pin]
        call: Call<F, &'a CircuitBreaker<C>>,
    }
}

impl<'a, F, C> Run<'a, F, C> {
    #[inline]
    pub(super) fn running(future: F, guard: Guard<&'a CircuitBreaker<C>>) -> Self {
        Self {
            call: Call::running(future, guard),
        }
    }

    pub(super) fn rejected(error: CircuitOpen) -> Self {
        Self {
            call: Call::rejected(error),
        }
    }
}

impl<F, C, T, E> Future for Run<'_, F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, crate::Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match std::task::ready!(self.project().call.poll_call(cx)) {
            Ok(result) => result.map_err(crate::Error::Inner),
            Err(open) => Err(crate::Error::CircuitOpen(open)),
        })
    }
}

impl<F, R: BreakerRef> fmt::Debug for Call<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Running { .. } => f
                .debug_struct("Call")
                .field("future", &std::any::type_name::<F>())
                .field("guard", &self.guard)
                .finish(),
            Kind::Rejected { error } => f.debug_tuple("Call").field(error).finish(),
        }
    }
}

impl<F, C> fmt::Debug for Run<'_, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Run").field(&self.call).finish()
    }
}

pin_project! {
    /// The response future of [`CircuitBreakerService`](super::CircuitBreakerService): the same
    /// state machine as [`Run`], with the errors boxed, as tower's are.
    ///
    /// Classifies and records the inner result when it completes. Dropped before that, it gives
    /// back its half-open probe slot (and, in the closed state, records the call as set by
    /// [`Builder::dropped_calls`](super::Builder::dropped_calls)).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, C> {
        #[pin]
        call: Call<F, LocalRef<C>>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(super) fn running(future: F, guard: Guard<LocalRef<C>>) -> Self {
        Self {
            call: Call::running(future, guard),
        }
    }

    pub(super) fn rejected(error: CircuitOpen) -> Self {
        Self {
            call: Call::rejected(error),
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<crate::BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, crate::BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match std::task::ready!(self.project().call.poll_call(cx)) {
            Ok(result) => result.map_err(Into::into),
            Err(open) => Err(open.into()),
        })
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResponseFuture").field(&self.call).finish()
    }
}
