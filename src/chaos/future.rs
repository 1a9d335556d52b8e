//! The future of a call with an injected fault.

use super::Fault;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Sleep;

pin_project! {
    /// A call with at most one injected fault; returned by [`Chaos::run`](super::Chaos::run) and
    /// by [`ChaosService`](super::ChaosService).
    #[must_use = "futures do nothing unless polled"]
    pub struct ChaosFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Delayed { #[pin] sleep: Sleep, #[pin] future: F, slept: bool },
        Running { #[pin] future: F },
        Hanging { #[pin] future: F },
        Failed { error: Option<E> },
    }
}

impl<F, E> ChaosFuture<F, E> {
    pub(crate) fn new(future: F, fault: Option<Fault>) -> Self {
        let state = match fault {
            Some(Fault::Latency(d)) => State::Delayed {
                sleep: tokio::time::sleep(d),
                future,
                slept: false,
            },
            Some(Fault::Hang) => State::Hanging { future },
            Some(Fault::Error) | None => State::Running { future },
        };
        Self { state }
    }

    pub(crate) fn failed(error: E) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ChaosFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Delayed {
                sleep,
                future,
                slept,
            } => {
                if !*slept {
                    if sleep.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *slept = true;
                }
                future.poll(cx)
            }
            StateProj::Running { future } => future.poll(cx),
            StateProj::Hanging { .. } => Poll::Pending,
            StateProj::Failed { error } => match error.take() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl<F, E> fmt::Debug for ChaosFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Delayed { .. } => "delayed",
            State::Running { .. } => "running",
            State::Hanging { .. } => "hanging",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("ChaosFuture")
            .field("state", &state)
            .finish()
    }
}
