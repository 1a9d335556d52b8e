//! The futures of the timeout pattern.

use super::Event;
use super::error::Elapsed;
use crate::event::Listeners;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// A future bounded by a deadline, returned by [`Timeout::run`](super::Timeout::run).
    ///
    /// The deadline is fixed when the future is created: the instant of creation plus the
    /// timeout. The timer is armed only if the inner future is still pending at its first poll,
    /// so a call that completes at once never touches the runtime's timer (and never adds the
    /// timeout to the instant: it keeps the start, and the timer's slot holds it until armed).
    /// Dropping this future drops the inner future and the timer.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F> {
        #[pin]
        future: F,
        #[pin]
        timer: Timer,
        after: Duration,
        listeners: Listeners<Event>,
    }
}

pin_project! {
    /// The timer's slot: the start of the call until the timer is armed, then the timer.
    #[project = TimerProj]
    enum Timer {
        Unarmed { start: Instant },
        Armed { #[pin] sleep: Sleep },
        // The deadline is too far in the future to represent: there is none.
        Never,
    }
}

impl<F> Run<F> {
    /// A deadline too far in the future to represent means no deadline at all.
    #[inline]
    pub(crate) fn new(future: F, after: Duration, listeners: Listeners<Event>) -> Self {
        Self {
            future,
            timer: Timer::Unarmed {
                start: Instant::now(),
            },
            after,
            listeners,
        }
    }

    /// The instant at which this future fails with [`Elapsed`], if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.timer {
            Timer::Unarmed { start } => start.checked_add(self.after),
            Timer::Armed { sleep } => Some(sleep.deadline()),
            Timer::Never => None,
        }
    }
}

impl<F: Future> Future for Run<F> {
    type Output = Result<F::Output, Elapsed>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if poll_timer(this.timer.as_mut(), *this.after, cx).is_ready() {
            let after = *this.after;
            this.listeners.emit(|name| Event::TimedOut {
                name,
                after,
                waiting_for_readiness: false,
            });
            let name = *this.listeners.name();
            return Poll::Ready(Err(Elapsed::call(after, name)));
        }
        Poll::Pending
    }
}

/// Arms the timer at the first poll that needs it (at the start plus `after`), then polls it.
#[inline(never)]
fn poll_timer(mut timer: Pin<&mut Timer>, after: Duration, cx: &mut Context<'_>) -> Poll<()> {
    if let TimerProj::Unarmed { start } = timer.as_mut().project() {
        match start.checked_add(after) {
            Some(deadline) => timer.set(Timer::Armed {
                sleep: tokio::time::sleep_until(deadline),
            }),
            None => timer.set(Timer::Never),
        }
    }
    match timer.project() {
        TimerProj::Armed { sleep } => sleep.poll(cx),
        _ => Poll::Pending,
    }
}

impl<F> fmt::Debug for Run<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("future", &std::any::type_name::<F>())
            .field("deadline", &self.deadline())
            .field("timer_armed", &matches!(self.timer, Timer::Armed { .. }))
            .finish()
    }
}

pin_project! {
    /// The response future of [`TimeoutService`](super::TimeoutService).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] run: Run<F> },
        Failed { error: Option<Elapsed> },
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn running(run: Run<F>) -> Self {
        Self {
            state: State::Running { run },
        }
    }

    pub(crate) fn failed(error: Elapsed) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<crate::BoxError>,
{
    type Output = Result<T, crate::BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { run } => match run.poll(cx) {
                Poll::Ready(Ok(out)) => Poll::Ready(out.map_err(Into::into)),
                Poll::Ready(Err(elapsed)) => Poll::Ready(Err(elapsed.into())),
                Poll::Pending => Poll::Pending,
            },
            StateProj::Failed { error } => match error.take() {
                Some(e) => Poll::Ready(Err(e.into())),
                None => Poll::Pending,
            },
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Running { run } => f.debug_tuple("ResponseFuture").field(run).finish(),
            State::Failed { error } => f.debug_tuple("ResponseFuture").field(error).finish(),
        }
    }
}
