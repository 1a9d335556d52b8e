//! The futures of the retry pattern: [`Run`] (standalone) and [`ResponseFuture`] (tower).

pub use super::run::Run;

use super::attempts::{Attempts, Decision};
use super::{Config, GiveUpReason, Replay, RetryAfter, ShouldRetry};
use crate::BoxError;
use crate::backoff::MakeDelays;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::time::Sleep;
use tower::Service;

/// What a tower call keeps to send its request again: made only if another attempt may follow.
pub(super) struct Again<S, Req, K> {
    pub(super) service: S,
    pub(super) replay: K,
    /// The request for the next attempt.
    pub(super) request: Option<Req>,
}

pin_project! {
    /// The response future of [`RetryService`](super::RetryService).
    ///
    /// Before every retry it drives its own clone of the inner service to readiness, then calls
    /// it; the sleep and the wait for readiness are bounded by
    /// [`stop_retrying_after`](super::RetryBuilder::stop_retrying_after).
    #[must_use = "futures do nothing unless polled"]
    #[project = Proj]
    pub struct ResponseFuture<S, Req, B, P, H, K>
    where
        S: Service<Req>,
        B: MakeDelays,
    {
        cfg: Config<B, P, H>,
        again: Option<Again<S, Req, K>>,
        attempts: Attempts<B::Delays>,
        last: Option<Result<S::Response, BoxError>>,
        // Boxed: made only when a retry waits, and it keeps the future small for the happy path.
        sleep: Option<Pin<Box<Sleep>>>,
        #[pin]
        state: State<S::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] future: F },
        Sleeping,
        Readying,
    }
}

impl<S, Req, B, P, H, K> ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req>,
    B: MakeDelays,
{
    pub(super) fn new(
        cfg: Config<B, P, H>,
        attempts: Attempts<B::Delays>,
        again: Option<Again<S, Req, K>>,
        future: S::Future,
    ) -> Self {
        Self {
            cfg,
            again,
            attempts,
            last: None,
            sleep: None,
            state: State::Calling { future },
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
    K: Replay<Req>,
{
    type Output = Result<S::Response, BoxError>;

    /// The attempt in flight is polled here; everything a retry does is out of line, so the
    /// common case (an attempt that ends the call) stays small.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let StateProj::Calling { future } = this.state.as_mut().project() {
                let outcome = ready!(future.poll(cx)).map_err(Into::into);
                if let Some(outcome) = after_outcome(&mut this, outcome) {
                    return Poll::Ready(outcome);
                }
                // Yield once per retry, so that attempts failing at once with no delay between
                // them cannot hold the task's thread.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Err(outcome) = ready!(poll_between(&mut this, cx)) {
                return Poll::Ready(outcome);
            }
        }
    }
}

type Outcome<S, Req> = Result<<S as Service<Req>>::Response, BoxError>;

/// Decides after an outcome: returns it when the call ends, or sets up the next attempt.
#[inline]
fn after_outcome<S, Req, B, P, H, K>(
    this: &mut Proj<'_, S, Req, B, P, H, K>,
    outcome: Outcome<S, Req>,
) -> Option<Outcome<S, Req>>
where
    S: Service<Req>,
    B: MakeDelays,
    P: ShouldRetry<S::Response, BoxError>,
    H: RetryAfter<S::Response, BoxError>,
    K: Replay<Req>,
{
    match this.attempts.decide(this.cfg, &outcome) {
        Decision::Stop => Some(outcome),
        Decision::Retry {
            delay,
            reason,
            hinted,
        } => schedule(this, outcome, delay, reason, hinted),
    }
}

/// Gets the request for the next attempt, takes the retry from the budget, and enters the sleep
/// (or the wait for readiness). Returns the outcome if the call ends instead.
#[inline(never)]
fn schedule<S, Req, B, P, H, K>(
    this: &mut Proj<'_, S, Req, B, P, H, K>,
    mut outcome: Outcome<S, Req>,
    delay: std::time::Duration,
    reason: super::RetryReason,
    hinted: bool,
) -> Option<Outcome<S, Req>>
where
    S: Service<Req>,
    B: MakeDelays,
    K: Replay<Req>,
{
    let request = this.again.as_mut().and_then(|again| {
        again.request.take().or_else(|| match &mut outcome {
            Err(error) => again.replay.recover(error),
            Ok(_) => None,
        })
    });
    let (Some(again), Some(request)) = (this.again.as_mut(), request) else {
        this.attempts.give_up(this.cfg, GiveUpReason::NoRequest);
        return Some(outcome);
    };
    if !this.attempts.commit(this.cfg, delay, reason, hinted) {
        return Some(outcome);
    }
    again.request = Some(request);
    *this.last = Some(outcome);
    if delay.is_zero() {
        this.state.set(State::Readying);
        arm_stop(this.sleep, this.attempts);
    } else {
        crate::sleep::arm(this.sleep, after(delay));
        this.state.set(State::Sleeping);
    }
    None
}

/// Between attempts: the sleep, then the wait for readiness, then the call. `Ready(Ok)` once the
/// next attempt is in flight, `Ready(Err(outcome))` when the call ends (the time for retrying ran out, or
/// the inner service failed).
#[inline(never)]
fn poll_between<S, Req, B, P, H, K>(
    this: &mut Proj<'_, S, Req, B, P, H, K>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Outcome<S, Req>>>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    B: MakeDelays,
    K: Replay<Req>,
{
    if let StateProj::Sleeping = this.state.as_mut().project() {
        if let Some(sleep) = this.sleep.as_mut() {
            ready!(sleep.as_mut().poll(cx));
        }
        this.state.set(State::Readying);
        arm_stop(this.sleep, this.attempts);
    }
    let Some(again) = this.again.as_mut() else {
        return give_up(this.attempts, this.cfg, this.last).map(Err);
    };
    match again.service.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(error)) => return Poll::Ready(Err(Err(error.into()))),
        Poll::Pending => {
            if this.attempts.stop_at().is_some() {
                if let Some(sleep) = this.sleep.as_mut() {
                    if sleep.as_mut().poll(cx).is_ready() {
                        return give_up(this.attempts, this.cfg, this.last).map(Err);
                    }
                }
            }
            return Poll::Pending;
        }
    }
    let Some(request) = again.request.take() else {
        return give_up(this.attempts, this.cfg, this.last).map(Err);
    };
    if this.attempts.past_stop() {
        return give_up(this.attempts, this.cfg, this.last).map(Err);
    }
    this.attempts.next_attempt();
    if this.attempts.may_retry() {
        again.request = again.replay.keep(&request);
    }
    *this.last = None;
    let future = again.service.call(request);
    this.state.set(State::Calling { future });
    Poll::Ready(Ok(()))
}

/// Returns the last outcome after the time for retrying ran out while waiting for readiness.
fn give_up<D, B, P, H, T>(
    attempts: &Attempts<D>,
    cfg: &Config<B, P, H>,
    last: &mut Option<T>,
) -> Poll<T> {
    match last.take() {
        Some(outcome) => {
            attempts.give_up(cfg, GiveUpReason::TimeUp);
            Poll::Ready(outcome)
        }
        // Only when polled again after completing.
        None => Poll::Pending,
    }
}

/// The instant `delay` from now; a delay too long to represent means about thirty years, as in
/// `tokio::time::sleep`.
fn after(delay: std::time::Duration) -> tokio::time::Instant {
    const FAR: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);
    let now = tokio::time::Instant::now();
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// Points the timer at the end of the time for retrying (if any) for the wait for readiness.
fn arm_stop<D>(sleep: &mut Option<Pin<Box<Sleep>>>, attempts: &Attempts<D>) {
    if let Some(stop_at) = attempts.stop_at() {
        crate::sleep::arm(sleep, stop_at);
    }
}

impl<S, Req, B, P, H, K> fmt::Debug for ResponseFuture<S, Req, B, P, H, K>
where
    S: Service<Req>,
    B: MakeDelays,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "calling",
            State::Sleeping => "sleeping",
            State::Readying => "readying",
        };
        f.debug_struct("ResponseFuture")
            .field("attempt", &self.attempts.current().number())
            .field("state", &state)
            .field("may_retry", &self.again.is_some())
            .finish()
    }
}
