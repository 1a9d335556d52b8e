//! The one future of the retry pattern. [`Run`] (standalone) and [`ResponseFuture`] (tower)
//! are the same state machine, [`Machine`], with different makers of attempts: a closure, or a
//! clone of the inner service that is driven to readiness and given the request again.

use super::attempts::{Attempt, Attempts, Decision};
use super::{Config, GiveUpReason, Reissue, Retry, RetryAfter, ShouldRetry};
use crate::BoxError;
use crate::backoff::MakeDelays;
use crate::stripe::Lane;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tower::Service;

/// How a call makes its attempts.
pub(super) trait MakeAttempt<T, E> {
    type Future: Future<Output = Result<T, E>>;

    /// Once a retry is decided, before it is taken from the budget: whether another attempt can
    /// be made at all (the tower door: whether a request can be had for it, kept earlier or
    /// taken back from the error of `outcome`).
    fn prepare(&mut self, outcome: &mut Result<T, E>) -> bool {
        let _ = outcome;
        true
    }

    /// Readiness for the next attempt, after the wait; an error ends the call with it.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Starts attempt `attempt`; `may_retry`: another attempt may follow it. `None`: no
    /// attempt can be made.
    fn make(&mut self, attempt: Attempt, may_retry: bool) -> Option<Self::Future>;
}

pin_project! {
    /// The state machine of one call with retries, whichever door it came through: the attempt
    /// in flight, then (if a retry is decided and taken from the budget) the wait, the
    /// readiness for the next attempt, and the next attempt. `O` is the outcome of an attempt.
    #[project = MachineProj]
    pub(super) struct Machine<M, Fut, D, O> {
        maker: M,
        // With the outcome of the last attempt, kept while waiting: returned if no attempt
        // follows.
        attempts: Attempts<D, O>,
        #[pin]
        state: State<Fut>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempting { #[pin] future: F },
        Sleeping,
        Readying,
    }
}

impl<M, Fut, D, O> Machine<M, Fut, D, O> {
    #[inline]
    pub(super) fn new(attempts: Attempts<D, O>, maker: M, first: Fut) -> Self {
        Self {
            maker,
            attempts,
            state: State::Attempting { future: first },
        }
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        let state = match &self.state {
            State::Attempting { .. } => "attempting",
            State::Sleeping => "sleeping",
            State::Readying => "readying",
        };
        f.field("attempt", &self.attempts.current().number())
            .field("state", &state);
    }
}

type Proj<'a, M, Fut, D, O> = MachineProj<'a, M, Fut, D, O>;

impl<M, Fut, D, T, E> Machine<M, Fut, D, Result<T, E>>
where
    M: MakeAttempt<T, E, Future = Fut>,
    Fut: Future<Output = Result<T, E>>,
    D: Iterator<Item = Duration>,
{
    /// The attempt in flight is polled here; everything a retry does is out of line, so the
    /// common case (an attempt that ends the call) stays small.
    #[inline]
    pub(super) fn poll<B, P, H>(
        self: Pin<&mut Self>,
        cfg: &Config<B, P, H>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, E>>
    where
        B: MakeDelays<Delays = D>,
        P: ShouldRetry<T, E>,
        H: RetryAfter<T, E>,
    {
        let mut this = self.project();
        loop {
            if let StateProj::Attempting { future } = this.state.as_mut().project() {
                let outcome = ready!(future.poll(cx));
                let delay = match this.attempts.decide(cfg, &outcome) {
                    Decision::Stop => return Poll::Ready(outcome),
                    Decision::Retry {
                        delay,
                        reason,
                        hinted,
                    } => match schedule(&mut this, cfg, outcome, delay, reason, hinted) {
                        Ok(delay) => delay,
                        Err(outcome) => return Poll::Ready(outcome),
                    },
                };
                if delay.is_zero() {
                    // Yield once, so that attempts failing at once with no delay between them
                    // cannot hold the task's thread.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            if let Err(outcome) = ready!(poll_between(&mut this, cfg, cx)) {
                return Poll::Ready(outcome);
            }
        }
    }
}

/// A retry was decided: gets the next attempt ready to be made, takes the retry from the budget
/// and enters the wait. `Err(outcome)` when the call ends instead.
#[inline(never)]
fn schedule<M, Fut, D, T, E, B, P, H>(
    this: &mut Proj<'_, M, Fut, D, Result<T, E>>,
    cfg: &Config<B, P, H>,
    mut outcome: Result<T, E>,
    delay: Duration,
    reason: super::RetryReason,
    hinted: bool,
) -> Result<Duration, Result<T, E>>
where
    M: MakeAttempt<T, E, Future = Fut>,
{
    if !this.maker.prepare(&mut outcome) {
        this.attempts.give_up(cfg, GiveUpReason::NoRequest);
        return Err(outcome);
    }
    if !this.attempts.commit(cfg, delay, reason, hinted) {
        return Err(outcome);
    }
    this.attempts.keep_last(outcome);
    if delay.is_zero() {
        this.state.set(State::Readying);
    } else {
        crate::sleep::arm(this.attempts.timer(), after(delay));
        this.state.set(State::Sleeping);
    }
    Ok(delay)
}

/// Between attempts: the wait, then the readiness for the next attempt (bounded by the time
/// limit), then the attempt. `Ready(Ok)` once the next attempt is in flight, `Ready(Err(outcome))`
/// when the call ends (the time for retrying ran out, or readiness failed).
#[inline(never)]
fn poll_between<M, Fut, D, T, E, B, P, H>(
    this: &mut Proj<'_, M, Fut, D, Result<T, E>>,
    cfg: &Config<B, P, H>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Result<T, E>>>
where
    M: MakeAttempt<T, E, Future = Fut>,
{
    if let StateProj::Sleeping = this.state.as_mut().project() {
        if let Some(sleep) = this.attempts.timer_if_made() {
            ready!(sleep.poll(cx));
        }
        this.state.set(State::Readying);
    }
    match this.maker.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(error)) => {
            this.attempts.take_last();
            return Poll::Ready(Err(Err(error)));
        }
        Poll::Pending => {
            if let Some(stop_at) = this.attempts.stop_at()
                && let Some(timer) = stop_timer(this.attempts.timer(), stop_at)
                && timer.poll(cx).is_ready()
            {
                return give_up(this, cfg, GiveUpReason::TimeUp).map(Err);
            }
            return Poll::Pending;
        }
    }
    if this.attempts.past_stop() {
        return give_up(this, cfg, GiveUpReason::TimeUp).map(Err);
    }
    let attempt = this.attempts.next_attempt();
    let Some(future) = this.maker.make(attempt, this.attempts.may_retry()) else {
        return give_up(this, cfg, GiveUpReason::NoRequest).map(Err);
    };
    this.attempts.take_last();
    this.state.set(State::Attempting { future });
    Poll::Ready(Ok(()))
}

/// Returns the last outcome: the call ends without another attempt.
fn give_up<M, Fut, D, O, B, P, H>(
    this: &mut Proj<'_, M, Fut, D, O>,
    cfg: &Config<B, P, H>,
    reason: GiveUpReason,
) -> Poll<O> {
    match this.attempts.take_last() {
        Some(outcome) => {
            this.attempts.give_up(cfg, reason);
            Poll::Ready(outcome)
        }
        // Only when polled again after completing.
        None => Poll::Pending,
    }
}

/// The instant `delay` from now; a delay too long to represent means about thirty years, as in
/// `tokio::time::sleep`.
fn after(delay: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = Instant::now();
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// The timer pointed at the end of the time for retrying, to bound the wait for readiness;
/// armed (made at most once per call) only when readiness has to be waited for.
fn stop_timer(slot: &mut Option<Pin<Box<Sleep>>>, stop_at: Instant) -> Option<Pin<&mut Sleep>> {
    if slot.as_ref().is_none_or(|s| s.deadline() != stop_at) {
        crate::sleep::arm(slot, stop_at);
    }
    slot.as_mut().map(|s| s.as_mut())
}

/// The maker of the standalone door: the closure given to [`Retry::run`].
pub(super) struct Closure<F>(F);

impl<F, Fut, T, E> MakeAttempt<T, E> for Closure<F>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Future = Fut;

    #[inline]
    fn make(&mut self, attempt: Attempt, _: bool) -> Option<Fut> {
        Some((self.0)(attempt))
    }
}

pin_project! {
    /// A call with retries, returned by [`Retry::run`](super::Retry::run).
    ///
    /// Holds the attempt in flight inline: no allocation unless the call retries (then what a
    /// retry needs, the backoff iterator and the outcome kept while waiting, is allocated once,
    /// and a timer once at the first wait).
    /// Dropping it drops the attempt in flight (or the sleep) and makes no further attempt.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F, Fut, B, P, H>
    where
        Fut: Future,
        B: MakeDelays,
    {
        retry: Retry<B, P, H>,
        #[pin]
        machine: Machine<Closure<F>, Fut, B::Delays, Fut::Output>,
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
        let first = make(attempts.current());
        Self {
            retry,
            machine: Machine::new(attempts, Closure(make), first),
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

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.machine.poll(&this.retry.shared, cx)
    }
}

impl<F, Fut: Future, B: MakeDelays, P, H> fmt::Debug for Run<F, Fut, B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Run");
        d.field("make", &std::any::type_name::<F>());
        self.machine.describe(&mut d);
        d.finish()
    }
}

/// The maker of the tower door: a clone of the inner service, driven to readiness before each
/// retry, and the request for the next attempt. Made only if another attempt may follow.
pub(super) struct Again<S, Req, K> {
    pub(super) service: S,
    pub(super) reissue: K,
    /// The request for the next attempt.
    pub(super) request: Option<Req>,
}

impl<S, Req, K> MakeAttempt<S::Response, BoxError> for Option<Again<S, Req, K>>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Reissue<Req>,
{
    type Future = ErrInto<S::Future>;

    fn prepare(&mut self, outcome: &mut Result<S::Response, BoxError>) -> bool {
        let Some(again) = self else {
            return false;
        };
        if again.request.is_none()
            && let Err(error) = outcome
        {
            again.request = again.reissue.recover(error);
        }
        again.request.is_some()
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Some(again) => again.service.poll_ready(cx).map_err(Into::into),
            None => Poll::Ready(Ok(())),
        }
    }

    fn make(&mut self, _: Attempt, may_retry: bool) -> Option<Self::Future> {
        let again = self.as_mut()?;
        let request = again.request.take()?;
        if may_retry {
            again.request = again.reissue.keep(&request);
        }
        Some(ErrInto::new(again.service.call(request)))
    }
}

pin_project! {
    /// An attempt of the inner service, its error boxed.
    pub(super) struct ErrInto<F> {
        #[pin]
        future: F,
    }
}

impl<F> ErrInto<F> {
    #[inline]
    pub(super) fn new(future: F) -> Self {
        Self { future }
    }
}

impl<F, T, E> Future for ErrInto<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map_err(Into::into)
    }
}

pin_project! {
    /// The response future of [`RetryService`](super::RetryService): the same state machine as
    /// [`Run`], whose attempts are calls of the inner service.
    ///
    /// Before every retry it drives its own clone of the inner service to readiness, then calls
    /// it; the sleep and the wait for readiness are bounded by
    /// [`stop_retrying_after`](super::RetryBuilder::stop_retrying_after).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, B, P, H, K>
    where
        S: Service<Req>,
        B: MakeDelays,
    {
        // The service's reference to the retry for the call's thread (one reference count per
        // call, in that thread's lane).
        cfg: Lane<Retry<B, P, H>>,
        #[pin]
        machine: Machine<
            Option<Again<S, Req, K>>,
            ErrInto<S::Future>,
            B::Delays,
            Result<S::Response, BoxError>,
        >,
    }
}

impl<S, Req, B, P, H, K> ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req>,
    B: MakeDelays,
{
    #[inline]
    pub(super) fn new(
        cfg: Lane<Retry<B, P, H>>,
        attempts: Attempts<B::Delays, Result<S::Response, BoxError>>,
        again: Option<Again<S, Req, K>>,
        future: S::Future,
    ) -> Self {
        Self {
            cfg,
            machine: Machine::new(attempts, again, ErrInto::new(future)),
        }
    }
}

impl<S, Req, B, P, H, K> Future for ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    B: MakeDelays,
    P: ShouldRetry<S::Response, BoxError>,
    H: RetryAfter<S::Response, BoxError>,
    K: Reissue<Req>,
{
    type Output = Result<S::Response, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.machine.poll(&this.cfg.shared, cx)
    }
}

impl<S, Req, B, P, H, K> fmt::Debug for ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req>,
    B: MakeDelays,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ResponseFuture");
        self.machine.describe(&mut d);
        d.field("may_retry", &self.machine.maker.is_some());
        d.finish()
    }
}
