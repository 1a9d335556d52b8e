//! The response future of the circuit breaker's tower service.

use super::CircuitOpen;
use super::breaker::{Guard, LocalRef};
use crate::classify::Classify;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The response future of [`CircuitBreakerService`](super::CircuitBreakerService).
    ///
    /// Classifies and records the inner result when it completes. Dropped before that, it gives
    /// back its half-open probe slot (and, in the closed state, records the call as set by
    /// [`Builder::dropped_calls`](super::Builder::dropped_calls)).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F>,
        guard: Option<Guard<LocalRef<C>>>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Running { #[pin] future: F },
        Rejected { error: Option<CircuitOpen> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn running(future: F, guard: Guard<LocalRef<C>>) -> Self {
        Self {
            kind: Kind::Running { future },
            guard: Some(guard),
        }
    }

    pub(super) fn rejected(error: CircuitOpen) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
            guard: None,
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
        let this = self.project();
        match this.kind.project() {
            KindProj::Running { future } => {
                let result = std::task::ready!(future.poll(cx));
                if let Some(mut guard) = this.guard.take() {
                    let outcome = guard.owner().0.classifier().classify(&result);
                    guard.finish(outcome);
                }
                Poll::Ready(result.map_err(Into::into))
            }
            KindProj::Rejected { error } => match error.take() {
                Some(e) => Poll::Ready(Err(e.into())),
                None => Poll::Pending,
            },
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Running { .. } => f
                .debug_struct("ResponseFuture")
                .field("future", &std::any::type_name::<F>())
                .field("guard", &self.guard)
                .finish(),
            Kind::Rejected { error } => f.debug_tuple("ResponseFuture").field(error).finish(),
        }
    }
}
