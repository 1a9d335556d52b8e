//! The one future of a hedge, and the tower response future built on it.

use super::state::Shared;
use pin_project_lite::pin_project;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::Service;

/// Makes one attempt of a call: the standalone closure, or a tower call on a fresh clone of the
/// service.
pub(crate) trait MakeAttempt {
    /// One attempt's future.
    type Future;
    /// Makes an attempt.
    fn make(&mut self) -> Self::Future;
}

impl<F: FnMut() -> Fut, Fut> MakeAttempt for F {
    type Future = Fut;

    #[inline]
    fn make(&mut self) -> Fut {
        self()
    }
}

pin_project! {
    #[project = SlotProj]
    enum Slot<Fut> {
        Running { #[pin] future: Fut },
        Empty,
    }
}

pin_project! {
    #[project = TimerProj]
    enum Timer {
        Idle,
        Armed { #[pin] sleep: Sleep },
    }
}

/// An extra attempt: boxed, since only a call that is hedged has one.
struct Extra<Fut> {
    attempt: u32,
    sent: Instant,
    future: Pin<Box<Fut>>,
}

pin_project! {
    /// A hedged call, returned by [`Hedge::run`](super::Hedge::run).
    ///
    /// Its first poll sends the first attempt. While no attempt has answered, another is sent
    /// each time the delay passes after the previous one, up to `max_hedged_attempts` more and
    /// as long as the budget allows. The first attempt to succeed is the call's answer: the
    /// others are dropped then. A failed attempt is set aside while others are in flight; once
    /// none is in flight the call ends with the last failure. See the [module docs](super).
    #[must_use = "futures do nothing unless polled"]
    #[project = RunProj]
    pub struct Run<M, Fut>
    where
        Fut: Future,
    {
        shared: Arc<Shared>,
        make: M,
        #[pin]
        first: Slot<Fut>,
        extras: Vec<Extra<Fut>>,
        #[pin]
        timer: Timer,
        // When the first attempt was sent (at the first poll), and the latest.
        begun: Option<Instant>,
        last_sent: Option<Instant>,
        // Attempts sent so far.
        sent: u32,
        // No more attempts will be sent (the cap, the budget, or no delay known).
        closed: bool,
        last: Option<Fut::Output>,
        panic: Option<Box<dyn Any + Send>>,
        done: bool,
    }
}

impl<M, Fut: Future> Run<M, Fut> {
    /// A call whose first attempt is made at the first poll.
    pub(super) fn new(shared: Arc<Shared>, make: M) -> Self {
        Self::with_first(shared, make, Slot::Empty)
    }

    /// A call whose first attempt was already made (the tower door calls the service that was
    /// made ready in `call`).
    pub(super) fn started(shared: Arc<Shared>, make: M, first: Fut) -> Self {
        Self::with_first(shared, make, Slot::Running { future: first })
    }

    fn with_first(shared: Arc<Shared>, make: M, first: Slot<Fut>) -> Self {
        Self {
            shared,
            make,
            first,
            extras: Vec::new(),
            timer: Timer::Idle,
            begun: None,
            last_sent: None,
            sent: 0,
            closed: false,
            last: None,
            panic: None,
            done: false,
        }
    }

    fn state_name(&self) -> &'static str {
        if self.done {
            "done"
        } else if self.begun.is_none() {
            "not started"
        } else {
            "running"
        }
    }
}

/// Ends the call: every attempt still in flight is dropped, and the timer with them.
fn finish<M, Fut: Future>(this: &mut RunProj<'_, M, Fut>) {
    this.first.set(Slot::Empty);
    this.extras.clear();
    this.timer.set(Timer::Idle);
    *this.done = true;
}

/// Polls one attempt; a panic comes back as `Err`.
#[inline]
fn poll_caught<Fut: Future>(
    future: Pin<&mut Fut>,
    cx: &mut Context<'_>,
) -> Result<Poll<Fut::Output>, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
}

impl<M, Fut, T, E> Future for Run<M, Fut>
where
    M: MakeAttempt<Future = Fut>,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.done {
            return Poll::Pending;
        }
        if this.begun.is_none() {
            let now = Instant::now();
            this.shared.begin(now);
            *this.begun = Some(now);
            *this.last_sent = Some(now);
            *this.sent = 1;
            if let SlotProj::Empty = this.first.as_mut().project() {
                let make = &mut *this.make;
                match catch_unwind(AssertUnwindSafe(|| make.make())) {
                    Ok(future) => this.first.set(Slot::Running { future }),
                    // Nothing else is in flight: the closure's panic is the caller's.
                    Err(panic) => {
                        *this.done = true;
                        resume_unwind(panic)
                    }
                }
            }
        }
        loop {
            if let SlotProj::Running { future } = this.first.as_mut().project() {
                match poll_caught(future, cx) {
                    Ok(Poll::Pending) => {}
                    Ok(Poll::Ready(out)) => {
                        this.first.set(Slot::Empty);
                        if out.is_ok() {
                            if this.shared.records()
                                && let Some(begun) = *this.begun
                            {
                                this.shared.record(begun);
                            }
                            finish(&mut this);
                            return Poll::Ready(out);
                        }
                        *this.last = Some(out);
                    }
                    Err(panic) => {
                        this.first.set(Slot::Empty);
                        *this.panic = Some(panic);
                    }
                }
            }
            let mut i = 0;
            while i < this.extras.len() {
                match poll_caught(this.extras[i].future.as_mut(), cx) {
                    Ok(Poll::Pending) => i += 1,
                    Ok(Poll::Ready(out)) => {
                        let extra = this.extras.swap_remove(i);
                        if out.is_ok() {
                            this.shared.record(extra.sent);
                            this.shared.won(extra.attempt);
                            finish(&mut this);
                            return Poll::Ready(out);
                        }
                        *this.last = Some(out);
                    }
                    Err(panic) => {
                        this.extras.swap_remove(i);
                        *this.panic = Some(panic);
                    }
                }
            }
            let in_flight = matches!(*this.first, Slot::Running { .. }) || !this.extras.is_empty();
            if !in_flight {
                // Every attempt sent has failed: the last failure is the call's, else the
                // panic of an attempt is.
                finish(&mut this);
                if let Some(out) = this.last.take() {
                    return Poll::Ready(out);
                }
                if let Some(panic) = this.panic.take() {
                    resume_unwind(panic);
                }
                return Poll::Pending;
            }
            // Wait for the delay after the latest attempt.
            loop {
                if *this.closed {
                    return Poll::Pending;
                }
                if *this.sent >= this.shared.max_attempts {
                    *this.closed = true;
                    this.timer.set(Timer::Idle);
                    return Poll::Pending;
                }
                match this.timer.as_mut().project() {
                    TimerProj::Idle => {
                        let (Some(delay), Some(last_sent)) =
                            (this.shared.delay(Instant::now()), *this.last_sent)
                        else {
                            *this.closed = true;
                            return Poll::Pending;
                        };
                        this.timer.set(Timer::Armed {
                            sleep: tokio::time::sleep_until(last_sent + delay),
                        });
                    }
                    TimerProj::Armed { sleep } => {
                        if sleep.poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        this.timer.set(Timer::Idle);
                        break;
                    }
                }
            }
            // No answer within the delay: send the next attempt, if the budget allows.
            let now = Instant::now();
            let attempt = *this.sent + 1;
            if !this.shared.try_hedge(now, attempt) {
                *this.closed = true;
                return Poll::Pending;
            }
            let after = now.saturating_duration_since(this.last_sent.unwrap_or(now));
            *this.sent = attempt;
            *this.last_sent = Some(now);
            this.shared.hedged(attempt, after);
            let make = &mut *this.make;
            match catch_unwind(AssertUnwindSafe(|| make.make())) {
                Ok(future) => this.extras.push(Extra {
                    attempt,
                    sent: now,
                    future: Box::pin(future),
                }),
                // A failed attempt, as if its future had panicked: the others carry on.
                Err(panic) => *this.panic = Some(panic),
            }
        }
    }
}

impl<M, Fut: Future> fmt::Debug for Run<M, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("make", &std::any::type_name::<M>())
            .field("state", &self.state_name())
            .field("sent", &self.sent)
            .field("in_flight_hedges", &self.extras.len())
            .finish()
    }
}

/// Makes each extra attempt of a tower call: the request cloned, on a fresh clone of the
/// service, made ready before it is called.
pub(crate) struct Again<S, Req> {
    service: S,
    request: Req,
}

impl<S, Req> Again<S, Req> {
    pub(super) fn new(service: S, request: Req) -> Self {
        Self { service, request }
    }
}

impl<S: Service<Req> + Clone, Req: Clone> MakeAttempt for Again<S, Req> {
    type Future = Attempt<S, Req>;

    fn make(&mut self) -> Attempt<S, Req> {
        Attempt::Ready {
            service: self.service.clone(),
            request: Some(self.request.clone()),
        }
    }
}

pin_project! {
    /// One attempt of a tower call: the service made ready, then called.
    #[project = AttemptProj]
    pub(crate) enum Attempt<S, Req>
    where
        S: Service<Req>,
    {
        Ready { service: S, request: Option<Req> },
        Called { #[pin] future: S::Future },
    }
}

impl<S: Service<Req>, Req> Future for Attempt<S, Req> {
    type Output = Result<S::Response, S::Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                AttemptProj::Ready { service, request } => {
                    std::task::ready!(service.poll_ready(cx))?;
                    let Some(request) = request.take() else {
                        return Poll::Pending;
                    };
                    let future = service.call(request);
                    self.set(Attempt::Called { future });
                }
                AttemptProj::Called { future } => return future.poll(cx),
            }
        }
    }
}

pin_project! {
    /// The response future of [`HedgeService`](super::HedgeService): the hedge's one future
    /// ([`Run`]) over clones of the service and the request.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        run: Run<Again<S, Req>, Attempt<S, Req>>,
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(super) fn new(shared: Arc<Shared>, again: Again<S, Req>, first: S::Future) -> Self {
        Self {
            run: Run::started(shared, again, Attempt::Called { future: first }),
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req> + Clone,
    Req: Clone,
{
    type Output = Result<S::Response, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().run.poll(cx)
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("state", &self.run.state_name())
            .field("sent", &self.run.sent)
            .finish()
    }
}
