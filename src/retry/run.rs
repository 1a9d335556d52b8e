//! The standalone future of the retry pattern.

use super::attempts::{Attempt, Attempts, Decision};
use super::{GiveUpReason, Retry, RetryAfter, ShouldRetry};
use crate::backoff::MakeDelays;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::time::Sleep;

pin_project! {
    /// A call with retries, returned by [`Retry::run`](super::Retry::run).
    ///
    /// Holds the attempt in flight inline: no allocation unless a retry waits (then one timer and
    /// the backoff iterator are allocated, once per call).
    /// Dropping it drops the attempt in flight (or the sleep) and makes no further attempt.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F, Fut, B, P, H>
    where
        Fut: Future,
        B: MakeDelays,
    {
        retry: Retry<B, P, H>,
        make: F,
        attempts: Attempts<B::Delays>,
        last: Option<Fut::Output>,
        #[pin]
        state: RunState<Fut>,
    }
}

pin_project! {
    #[project = RunStateProj]
    enum RunState<Fut> {
        Attempting { #[pin] future: Fut },
        // Boxed: made only when a retry waits, and it keeps the future small for the happy path.
        Sleeping { sleep: Pin<Box<Sleep>> },
    }
}

impl<F, Fut, B, P, H> Run<F, Fut, B, P, H>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future,
    B: MakeDelays,
{
    pub(super) fn new(retry: Retry<B, P, H>, mut make: F) -> Self {
        let attempts = Attempts::start(&retry.shared);
        let future = make(attempts.current());
        Self {
            retry,
            make,
            attempts,
            last: None,
            state: RunState::Attempting { future },
        }
    }
}

impl<F, Fut, B, P, H, T, E> Future for Run<F, Fut, B, P, H>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    B: MakeDelays,
    P: ShouldRetry<T, E>,
    H: RetryAfter<T, E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                RunStateProj::Attempting { future } => {
                    let outcome = ready!(future.poll(cx));
                    let Decision::Retry {
                        delay,
                        reason,
                        hinted,
                    } = this.attempts.decide(&this.retry.shared, &outcome)
                    else {
                        return Poll::Ready(outcome);
                    };
                    if !this
                        .attempts
                        .commit(&this.retry.shared, delay, reason, hinted)
                    {
                        return Poll::Ready(outcome);
                    }
                    if delay.is_zero() {
                        let future = (this.make)(this.attempts.next_attempt());
                        this.state.set(RunState::Attempting { future });
                        // Yield, so that attempts failing at once with no delay between them
                        // cannot hold the task's thread.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    } else {
                        *this.last = Some(outcome);
                        let sleep = Box::pin(tokio::time::sleep(delay));
                        this.state.set(RunState::Sleeping { sleep });
                    }
                }
                RunStateProj::Sleeping { sleep } => {
                    ready!(sleep.as_mut().poll(cx));
                    let last = this.last.take();
                    if this.attempts.past_stop() {
                        if let Some(outcome) = last {
                            this.attempts
                                .give_up(&this.retry.shared, GiveUpReason::TimeUp);
                            return Poll::Ready(outcome);
                        }
                    }
                    let future = (this.make)(this.attempts.next_attempt());
                    this.state.set(RunState::Attempting { future });
                }
            }
        }
    }
}

impl<F, Fut: Future, B: MakeDelays, P, H> fmt::Debug for Run<F, Fut, B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            RunState::Attempting { .. } => "attempting",
            RunState::Sleeping { .. } => "sleeping",
        };
        f.debug_struct("Run")
            .field("make", &std::any::type_name::<F>())
            .field("attempt", &self.attempts.current().number())
            .field("state", &state)
            .finish()
    }
}
