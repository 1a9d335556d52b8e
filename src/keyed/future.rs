//! The response future of the keyed tower door: the key's instance's own response future, or a
//! refusal.

use super::{NoKey, TooManyKeys};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Why the keyed door did not start a call.
#[derive(Clone, Copy, Debug)]
pub(super) enum Refusal {
    TooManyKeys(TooManyKeys),
    NoKey(NoKey),
}

pin_project! {
    /// The response future of [`KeyedService`](super::KeyedService): the response future of the
    /// key's instance (a breaker's, a rate limiter's, ...), or a refusal
    /// ([`TooManyKeys`], [`NoKey`]) that fails at the first poll.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        // The key's instance, held until the call completes: a key with a call in flight is
        // not evicted.
        instance: Option<Arc<dyn Send + Sync>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: F },
        Refused { refusal: Option<Refusal> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn running(future: F, instance: Arc<dyn Send + Sync>) -> Self {
        Self {
            state: State::Running { future },
            instance: Some(instance),
        }
    }

    pub(super) fn refused(refusal: Refusal) -> Self {
        Self {
            state: State::Refused {
                refusal: Some(refusal),
            },
            instance: None,
        }
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, crate::BoxError>>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            StateProj::Running { future } => {
                let out = std::task::ready!(future.poll(cx));
                this.instance.take();
                Poll::Ready(out)
            }
            StateProj::Refused { refusal } => match refusal.take() {
                Some(Refusal::TooManyKeys(e)) => Poll::Ready(Err(e.into())),
                Some(Refusal::NoKey(e)) => Poll::Ready(Err(e.into())),
                // Polled after completion.
                None => Poll::Pending,
            },
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Running { .. } => "running",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
