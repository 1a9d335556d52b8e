//! The pipeline's one state machine, under both doors: total timeout, retry, circuit breaker,
//! bulkhead and attempt timeout in one future.
//!
//! [`Run`] (standalone) and [`ResponseFuture`] (tower) are the same [`Machine`] with different
//! makers of attempts: a closure, or a ready clone of the inner service given the request again.
//! One timer serves every time bound (it is set to the earliest that applies: the total
//! deadline, the attempt's end, the end of a backoff sleep, the end of the time for retrying),
//! and the clock is read once when a call starts, shared by everything that needs the time then
//! (the total deadline, the retry budget, the first attempt's slow-call start and end). A retry
//! reads it once for its own attempt, and an attempt admitted after a wait in the bulkhead's
//! queue when it is admitted: an attempt's times are its own.

use super::ApplyFallback;
use super::handle::{Parts, PartsLane};
use super::hint::PipelineHint;
use crate::BoxError;
use crate::backoff::MakeDelays;
use crate::bulkhead::{Acquire, BulkheadFull, Permit, Queued, Slot};
use crate::circuit_breaker::{CircuitOpen, Ticket};
use crate::classify::{Classify, Verdict};
use crate::retry::{Attempts, Config, Decision, GiveUpReason, Reissue, RetryAfter, ShouldRetry};
use crate::timeout::Elapsed;
use futures_core::TryFuture;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tower::Service;

/// How a call makes its attempts; `X` is the error of the call's outcome.
pub(crate) trait MakeAttempt<T, E, X> {
    type Future: Future<Output = Result<T, E>>;

    /// Once a retry is decided: whether another attempt can be made at all (the tower door:
    /// whether a request can be had for it, kept earlier or taken back from the error).
    fn prepare(&mut self, outcome: &mut Result<T, X>) -> bool {
        let _ = outcome;
        true
    }

    /// Readiness for a retry, after the wait; an error ends the call with it.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), X>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Starts an attempt, once the breaker and the bulkhead admitted it; `may_retry`: another
    /// attempt may follow. `None`: no attempt can be made.
    fn make(&mut self, may_retry: bool) -> Option<Self::Future>;

    /// The call's own error, as the outcome's.
    fn wrap(error: E) -> X;

    /// The circuit rejected an attempt (the standalone door tells the default retry hint).
    fn rejected_by_circuit() {}
}

pin_project! {
    #[project = StateProj]
    enum State<Fut> {
        // Asking the breaker and the bulkhead for the next attempt.
        Admitting,
        // Waiting in the bulkhead's queue, until the end of its `max_wait` (timed by the
        // machine's one timer).
        Waiting { acquire: Acquire, until: Option<Instant> },
        Attempting { #[pin] future: Fut },
        // The backoff sleep before a retry, until `resume`.
        Sleeping { resume: Instant },
        // Readiness for a retry (the tower door).
        Readying,
        Done,
    }
}

pin_project! {
    /// The state of one call through the pipeline: the attempt in flight (or its admission),
    /// the retry's count and delays, the breaker's ticket and the bulkhead's permit of the
    /// attempt, and the one timer.
    #[project = MachineProj]
    pub(crate) struct Machine<M, Fut, D, O> {
        maker: M,
        attempts: Option<Attempts<D>>,
        // The outcome of the last attempt, kept while waiting: returned if no attempt follows.
        last: Option<O>,
        ticket: Option<Ticket>,
        held: Held,
        // When the call started (read once, if anything needs the time; always, with a total
        // timeout, whose deadline is this plus the timeout, computed when a bound is needed).
        started: Option<Instant>,
        // The end of the attempt in flight.
        attempt_end: Option<Instant>,
        #[pin]
        timer: Option<Sleep>,
        #[pin]
        state: State<Fut>,
    }
}

/// The bulkhead slot of the attempt in flight.
enum Held {
    None,
    /// Taken at once: freed through the pipeline's bulkhead (the call holds the pipeline's
    /// parts, so the slot needs no reference of its own).
    Slot(Slot),
    /// Granted after a wait in the bulkhead's queue.
    Permit(Permit),
}

/// The clock, read at most once.
struct Now<'a>(&'a mut Option<Instant>);

impl Now<'_> {
    fn get(&mut self) -> Instant {
        *self.0.get_or_insert_with(Instant::now)
    }
}

/// `now + d`, or about thirty years on (as `tokio::time::sleep`) if that cannot be represented.
#[inline]
fn after(now: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

#[inline]
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Polls the timer set to `at` (made on first use, reset after); ready when it fired.
#[inline]
fn fired(mut timer: Pin<&mut Option<Sleep>>, at: Instant, cx: &mut Context<'_>) -> bool {
    match timer.as_mut().as_pin_mut() {
        Some(sleep) if sleep.deadline() == at => {}
        Some(sleep) => sleep.reset(at),
        None => timer.set(Some(tokio::time::sleep_until(at))),
    }
    match timer.as_pin_mut() {
        Some(sleep) => sleep.poll(cx).is_ready(),
        None => false,
    }
}

/// The end of the whole call, if it has a total timeout (`started` is then always read).
#[inline]
fn deadline<C, B, P, H, Fb>(
    started: &Option<Instant>,
    parts: &Parts<C, B, P, H, Fb>,
) -> Option<Instant> {
    Some(after((*started)?, parts.total?))
}

impl<M, Fut, D, O> Machine<M, Fut, D, O> {
    /// Starts the call: the clock (if anything needs it; the total deadline counts from
    /// here), the retry's count. Built in one piece, so that the future is written in place.
    #[inline]
    fn start<C, B, P, H, Fb>(maker: M, parts: &Parts<C, B, P, H, Fb>) -> Self
    where
        B: MakeDelays<Delays = D>,
    {
        let mut started = None;
        let mut now = Now(&mut started);
        if parts.total.is_some() {
            now.get();
        }
        let attempts = parts
            .retry
            .as_ref()
            .map(|retry| Attempts::start_with(&retry.shared, || now.get()));
        Self {
            maker,
            attempts,
            last: None,
            ticket: None,
            held: Held::None,
            started,
            attempt_end: None,
            timer: None,
            state: State::Admitting,
        }
    }

    /// The call was dropped: see [`abandon`]. A call that ended holds nothing.
    #[inline]
    fn release<C, B, P, H, Fb>(self: Pin<&mut Self>, parts: &Parts<C, B, P, H, Fb>) {
        if !matches!(self.state, State::Done) {
            abandon(&mut self.project(), parts);
        }
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        let state = match &self.state {
            State::Admitting => "admitting",
            State::Waiting { .. } => "queued",
            State::Attempting { .. } => "attempting",
            State::Sleeping { .. } => "sleeping",
            State::Readying => "readying",
            State::Done => "done",
        };
        f.field("state", &state);
        if let Some(attempts) = &self.attempts {
            f.field("attempt", &attempts.current().number());
        }
    }
}

/// Ends the attempt: drops its future (or its place in the bulkhead's queue), then gives back
/// what it held: its breaker ticket, recorded with `verdict` (`None`: abandoned, released
/// unrecorded, as a dropped call), and its bulkhead slot, telling an adaptive limit whether the
/// attempt failed (the breaker's verdict: a failure is a drop; nothing when abandoned).
///
/// In that order after every attempt (completed, timed out, turned away or abandoned with its
/// call): a future that holds a connection or a request until it is dropped is gone before the
/// slot admits the next attempt, and a half-open probe counts until then. What it held goes back
/// even if dropping the future panics.
#[inline(always)]
fn end_attempt<M, Fut, D, O, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, O>,
    parts: &Parts<C, B, P, H, Fb>,
    verdict: Option<Verdict>,
) {
    let _held = GiveBack {
        parts,
        ticket: this.ticket,
        held: this.held,
        verdict,
    };
    this.state.set(State::Done);
}

/// What an attempt held, given back when this is dropped: see [`end_attempt`].
struct GiveBack<'a, C, B, P, H, Fb> {
    parts: &'a Parts<C, B, P, H, Fb>,
    ticket: &'a mut Option<Ticket>,
    held: &'a mut Held,
    verdict: Option<Verdict>,
}

impl<C, B, P, H, Fb> Drop for GiveBack<'_, C, B, P, H, Fb> {
    #[inline(always)]
    fn drop(&mut self) {
        if let (Some(ticket), Some(breaker)) = (self.ticket.take(), &self.parts.breaker) {
            match self.verdict {
                Some(verdict) => breaker.core().record(ticket, verdict),
                None => breaker.core().release(ticket),
            }
        }
        let failed = self.verdict.map(|v| v == Verdict::Failure);
        free(self.parts, self.held, failed);
    }
}

/// Gives the bulkhead slot back (if one is held), reporting the attempt to an adaptive limit
/// as `failed` or not; `None`: cancelled, not reported.
#[inline(always)]
fn free<C, B, P, H, Fb>(parts: &Parts<C, B, P, H, Fb>, held: &mut Held, failed: Option<bool>) {
    match std::mem::replace(held, Held::None) {
        Held::None => {}
        Held::Slot(slot) => {
            if let Some(bulkhead) = &parts.bulkhead {
                bulkhead.give_back(slot, failed);
            }
        }
        Held::Permit(permit) => free_permit(permit, failed),
    }
}

/// [`free`] of a slot granted after a wait (out of line: the queue is the uncommon path).
#[inline(never)]
fn free_permit(mut permit: Permit, failed: Option<bool>) {
    match failed {
        Some(failed) => permit.finish(failed),
        // Cancelled: an adaptive limit hears nothing of it, as of a dropped bulkhead call.
        None => permit.explicit(),
    }
}

type Proj<'a, M, Fut, D, O> = MachineProj<'a, M, Fut, D, O>;

impl<M, Fut, D, T, X> Machine<M, Fut, D, Result<T, X>>
where
    D: Iterator<Item = Duration>,
    X: From<Elapsed> + From<CircuitOpen> + From<BulkheadFull>,
{
    /// Polls the call. The common path is kept apart from the rest and small: a first poll
    /// that is admitted at once and whose attempt is ready or pending, and a later poll whose
    /// attempt is ready, with no retry to follow; everything else goes through [`step`].
    #[inline]
    pub(crate) fn poll<C, B, P, H, Fb, E>(
        self: Pin<&mut Self>,
        parts: &Parts<C, B, P, H, Fb>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, X>>
    where
        M: MakeAttempt<T, E, X, Future = Fut>,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        B: MakeDelays<Delays = D>,
        P: ShouldRetry<T, X>,
        PipelineHint<H>: RetryAfter<T, X>,
    {
        let mut this = self.project();
        if let StateProj::Admitting = this.state.as_mut().project()
            && let Some(outcome) = admit(&mut this, parts)
        {
            return step(&mut this, parts, cx, Some(outcome));
        }
        let outcome = match this.state.as_mut().project() {
            StateProj::Attempting { future } => match future.poll(cx) {
                Poll::Ready(raw) => completed(&mut this, parts, raw),
                Poll::Pending => match attempt_timed_out(&mut this, parts, cx) {
                    Some(outcome) => outcome,
                    None => return Poll::Pending,
                },
            },
            _ => return step(&mut this, parts, cx, None),
        };
        match decide(&mut this, parts, outcome) {
            Err(outcome) => Poll::Ready(outcome),
            Ok(delay) if wait_for_retry(&mut this, delay, cx) => step(&mut this, parts, cx, None),
            Ok(_) => Poll::Pending,
        }
    }
}

/// The attempt's raw outcome: recorded with the breaker (its verdict), the bulkhead slot given
/// back, the attempt over.
#[inline(always)]
fn completed<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    raw: Result<T, E>,
) -> Result<T, X>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    C: Classify<T, E>,
{
    // Without a breaker the verdict only tells an adaptive bulkhead limit whether the attempt
    // failed: an `Err` did.
    let verdict = match &parts.breaker {
        Some(b) => b.classifier().classify(&raw),
        None if raw.is_err() => Verdict::Failure,
        None => Verdict::Success,
    };
    end_attempt(this, parts, Some(verdict));
    raw.map_err(M::wrap)
}

/// A retry was decided, to start after `delay`: the backoff sleep, or with no delay one yield
/// (so that attempts failing at once with no delay between them cannot hold the task's
/// thread). `false`: the call returns `Pending` now.
fn wait_for_retry<M, Fut, D, O>(
    this: &mut Proj<'_, M, Fut, D, O>,
    delay: Duration,
    cx: &mut Context<'_>,
) -> bool {
    if delay.is_zero() {
        this.state.set(State::Readying);
        cx.waker().wake_by_ref();
        return false;
    }
    let resume = after(Instant::now(), delay);
    this.state.set(State::Sleeping { resume });
    true
}

/// Every state of the call, from its state now or, given `outcome`, from an attempt's outcome.
#[inline(never)]
fn step<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    cx: &mut Context<'_>,
    mut outcome: Option<Result<T, X>>,
) -> Poll<Result<T, X>>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    Fut: Future<Output = Result<T, E>>,
    D: Iterator<Item = Duration>,
    X: From<Elapsed> + From<CircuitOpen> + From<BulkheadFull>,
    C: Classify<T, E>,
    B: MakeDelays<Delays = D>,
    P: ShouldRetry<T, X>,
    PipelineHint<H>: RetryAfter<T, X>,
{
    loop {
        let outcome = match outcome.take() {
            Some(outcome) => outcome,
            None => match this.state.as_mut().project() {
                StateProj::Attempting { future } => match future.poll(cx) {
                    Poll::Ready(raw) => completed(this, parts, raw),
                    Poll::Pending => match attempt_timed_out(this, parts, cx) {
                        Some(outcome) => outcome,
                        None => return Poll::Pending,
                    },
                },
                StateProj::Admitting => match admit(this, parts) {
                    Some(outcome) => outcome,
                    None => continue,
                },
                StateProj::Waiting { acquire, until } => {
                    // One timer for the total deadline and the end of the queue's `max_wait`.
                    let until = *until;
                    let deadline = deadline(this.started, parts);
                    let (total_over, wait_over) = match earliest(deadline, until) {
                        Some(at) if fired(this.timer.as_mut(), at, cx) => {
                            // A tie goes to the queue's bound, as to the attempt timeout.
                            let total = Some(at) == deadline && until.is_none_or(|u| at < u);
                            (total, !total)
                        }
                        _ => (false, false),
                    };
                    // A slot granted before the timer rang still wins.
                    match acquire.poll_queued(cx, wait_over) {
                        Poll::Ready(Ok(permit)) => {
                            *this.held = Held::Permit(permit);
                            match call(this, parts, None) {
                                Some(outcome) => outcome,
                                None => continue,
                            }
                        }
                        Poll::Ready(Err(full)) => turned_away(this, parts, full),
                        Poll::Pending if total_over => {
                            return Poll::Ready(total_elapsed(this, parts));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                StateProj::Sleeping { resume } => {
                    let resume = *resume;
                    let at =
                        earliest(Some(resume), deadline(this.started, parts)).unwrap_or(resume);
                    if !fired(this.timer.as_mut(), at, cx) {
                        return Poll::Pending;
                    }
                    if at < resume {
                        return Poll::Ready(total_elapsed(this, parts));
                    }
                    this.state.set(State::Readying);
                    continue;
                }
                StateProj::Readying => match ready_for_retry(this, parts, cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(outcome)) => return Poll::Ready(outcome),
                    Poll::Pending => return Poll::Pending,
                },
                // Only when polled again after completing.
                StateProj::Done => return Poll::Pending,
            },
        };
        match decide(this, parts, outcome) {
            Ok(delay) => {
                if !wait_for_retry(this, delay, cx) {
                    return Poll::Pending;
                }
            }
            Err(outcome) => return Poll::Ready(outcome),
        }
    }
}

/// Asks the breaker, then the bulkhead, for the next attempt; starts it if both admit it at
/// once. `Some(outcome)` when the attempt ends before it starts (rejected).
///
/// The attempt's clock is the call's reading for the first attempt (if the call read it) and a
/// reading of its own for a retry, read at most once and shared by the slow-call rule and, when
/// admitted at once, the attempt's end.
#[inline(always)]
fn admit<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
) -> Option<Result<T, X>>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    Fut: Future<Output = Result<T, E>>,
    X: From<CircuitOpen> + From<BulkheadFull>,
{
    let mut clock = match this.attempts.as_ref() {
        Some(a) if a.current().number() > 1 => None,
        _ => *this.started,
    };
    if let Some(breaker) = &parts.breaker {
        match breaker.core().acquire(true) {
            Ok(mut ticket) => {
                // The slow-call clock includes the bulkhead's queue wait.
                breaker
                    .core()
                    .start_with(&mut ticket, || Now(&mut clock).get());
                *this.ticket = Some(ticket);
            }
            Err(open) => {
                M::rejected_by_circuit();
                this.state.set(State::Done);
                return Some(Err(open.into()));
            }
        }
    }
    if let Some(bulkhead) = &parts.bulkhead {
        match bulkhead.try_take() {
            Some(slot) => *this.held = Held::Slot(slot),
            None => match bulkhead.queue(Now(&mut clock).get()) {
                Queued::Now(Ok(permit)) => *this.held = Held::Permit(permit),
                Queued::Now(Err(full)) => return Some(turned_away(this, parts, full)),
                Queued::Waiting { acquire, until } => {
                    this.state.set(State::Waiting { acquire, until });
                    return None;
                }
            },
        }
    }
    call(this, parts, clock)
}

/// The bulkhead turned the attempt away (its queue full, or its `max_wait` over): the breaker
/// ignores it, as it says nothing of the dependency.
fn turned_away<M, Fut, D, T, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    full: BulkheadFull,
) -> Result<T, X>
where
    X: From<BulkheadFull>,
{
    end_attempt(this, parts, Some(Verdict::Ignored));
    Err(full.into())
}

/// Admitted: makes the attempt and fixes its end, from `clock` (the attempt's reading when it
/// was admitted at once; `None`: the clock is read now, as after a wait in the bulkhead's
/// queue). `Some(outcome)` if no attempt can be made.
#[inline(always)]
fn call<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    mut clock: Option<Instant>,
) -> Option<Result<T, X>>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    Fut: Future<Output = Result<T, E>>,
{
    let may_retry = this.attempts.as_ref().is_some_and(Attempts::may_retry);
    let Some(future) = this.maker.make(may_retry) else {
        // Only the tower door, when it has no request: it gives back the last outcome.
        end_attempt(this, parts, Some(Verdict::Ignored));
        return this.last.take();
    };
    *this.attempt_end = parts.attempt.map(|d| after(Now(&mut clock).get(), d));
    this.state.set(State::Attempting { future });
    None
}

/// The attempt in flight is pending: whether a time bound ended it. `Some(outcome)` when the
/// attempt timeout did (the attempt is a failure, and may be retried); the total deadline ends
/// the call (returned through the caller's `Err` path as an outcome with no retry).
#[inline(never)]
fn attempt_timed_out<M, Fut, D, T, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    cx: &mut Context<'_>,
) -> Option<Result<T, X>>
where
    X: From<Elapsed>,
{
    let deadline = deadline(this.started, parts);
    let at = earliest(deadline, *this.attempt_end)?;
    if !fired(this.timer.as_mut(), at, cx) {
        return None;
    }
    if Some(at) == deadline && this.attempt_end.is_none_or(|end| at < end) {
        // The total deadline: the attempt is abandoned, the call ends (no retry follows).
        *this.attempts = None;
        return Some(total_elapsed(this, parts));
    }
    // The attempt timeout: a failure.
    end_attempt(this, parts, Some(Verdict::Failure));
    let attempt = parts.attempt.unwrap_or_default();
    Some(Err(parts.timeouts.elapsed(false, attempt).into()))
}

/// The attempt in flight (or its admission) is abandoned: see [`end_attempt`].
fn abandon<M, Fut, D, O, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, O>,
    parts: &Parts<C, B, P, H, Fb>,
) {
    end_attempt(this, parts, None);
}

/// The total deadline passed (during an attempt, in the queue, in a backoff sleep, or waiting
/// for readiness): the call ends with a timeout.
fn total_elapsed<M, Fut, D, T, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
) -> Result<T, X>
where
    X: From<Elapsed>,
{
    abandon(this, parts);
    *this.last = None;
    let total = parts.total.unwrap_or_default();
    Err(parts.timeouts.elapsed(true, total).into())
}

/// After an attempt's outcome: `Ok(delay)` when a retry follows after `delay` (the outcome is
/// kept), `Err(outcome)` when the call ends with it.
#[inline]
fn decide<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    mut outcome: Result<T, X>,
) -> Result<Duration, Result<T, X>>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    D: Iterator<Item = Duration>,
    B: MakeDelays<Delays = D>,
    P: ShouldRetry<T, X>,
    PipelineHint<H>: RetryAfter<T, X>,
{
    let (Some(attempts), Some(retry)) = (this.attempts.as_mut(), &parts.retry) else {
        return Err(outcome);
    };
    let cfg: &Config<B, P, _> = &retry.shared;
    let Decision::Retry {
        delay,
        reason,
        hinted,
    } = attempts.decide(cfg, &outcome)
    else {
        return Err(outcome);
    };
    if !this.maker.prepare(&mut outcome) {
        attempts.give_up(cfg, GiveUpReason::NoRequest);
        return Err(outcome);
    }
    if !attempts.commit(cfg, delay, reason, hinted) {
        return Err(outcome);
    }
    *this.last = Some(outcome);
    Ok(delay)
}

/// Between a retry's wait and its admission: readiness (the tower door), bounded by the total
/// deadline and the time for retrying; then the next attempt is counted and admitted.
fn ready_for_retry<M, Fut, D, T, E, X, C, B, P, H, Fb>(
    this: &mut Proj<'_, M, Fut, D, Result<T, X>>,
    parts: &Parts<C, B, P, H, Fb>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Result<T, X>>>
where
    M: MakeAttempt<T, E, X, Future = Fut>,
    X: From<Elapsed>,
{
    let give_up = |this: &mut Proj<'_, M, Fut, D, Result<T, X>>, reason| {
        this.state.set(State::Done);
        let outcome = this.last.take();
        if let (Some(attempts), Some(retry)) = (this.attempts.as_ref(), &parts.retry) {
            attempts.give_up(&retry.shared, reason);
        }
        outcome
    };
    match this.maker.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(error)) => {
            *this.last = None;
            this.state.set(State::Done);
            return Poll::Ready(Err(Err(error)));
        }
        Poll::Pending => {
            let stop_at = this.attempts.as_ref().and_then(Attempts::stop_at);
            let deadline = deadline(this.started, parts);
            let Some(at) = earliest(deadline, stop_at) else {
                return Poll::Pending;
            };
            if !fired(this.timer.as_mut(), at, cx) {
                return Poll::Pending;
            }
            if Some(at) == deadline {
                return Poll::Ready(Err(total_elapsed(this, parts)));
            }
            return match give_up(this, GiveUpReason::TimeUp) {
                Some(outcome) => Poll::Ready(Err(outcome)),
                None => Poll::Pending,
            };
        }
    }
    if let Some(attempts) = this.attempts.as_mut() {
        if attempts.past_stop() {
            return match give_up(this, GiveUpReason::TimeUp) {
                Some(outcome) => Poll::Ready(Err(outcome)),
                None => Poll::Pending,
            };
        }
        attempts.next_attempt();
    }
    this.state.set(State::Admitting);
    Poll::Ready(Ok(()))
}

/// The maker of the standalone door: the closure given to [`Pipeline::run`](super::Pipeline::run).
pub(crate) struct Closure<F>(F);

impl<F, Fut, T, E: 'static> MakeAttempt<T, E, crate::Error<E>> for Closure<F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Future = Fut;

    #[inline]
    fn make(&mut self, _: bool) -> Option<Fut> {
        Some((self.0)())
    }

    #[inline]
    fn wrap(error: E) -> crate::Error<E> {
        crate::Error::Inner(error)
    }

    fn rejected_by_circuit() {
        crate::Error::<E>::register_open();
    }
}

pin_project! {
    /// A call through a [`Pipeline`](super::Pipeline), returned by
    /// [`Pipeline::run`](super::Pipeline::run).
    ///
    /// One state machine for the whole call: no allocation on the success path, one timer
    /// (inline, made only if an attempt is pending or a retry waits), and the clock read once
    /// when the call starts. Dropping it drops the attempt in flight: its bulkhead slot is
    /// returned, its breaker ticket given back, and no timer is left behind.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, F, Fut, C, B, P, H, Fb>
    where
        Fut: TryFuture,
        B: MakeDelays,
    {
        parts: &'a Parts<C, B, P, H, Fb>,
        #[pin]
        machine: Machine<Closure<F>, Fut, B::Delays, Result<Fut::Ok, crate::Error<Fut::Error>>>,
    }

    impl<'a, F, Fut, C, B, P, H, Fb> PinnedDrop for Run<'a, F, Fut, C, B, P, H, Fb>
    where
        Fut: TryFuture,
        B: MakeDelays,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.machine.release(this.parts);
        }
    }
}

impl<'a, F, Fut, C, B, P, H, Fb> Run<'a, F, Fut, C, B, P, H, Fb>
where
    Fut: TryFuture,
    B: MakeDelays,
{
    #[inline]
    pub(super) fn new(parts: &'a Parts<C, B, P, H, Fb>, f: F) -> Self {
        Self {
            machine: Machine::start(Closure(f), parts),
            parts,
        }
    }
}

impl<F, Fut, C, B, P, H, Fb, T, E> Future for Run<'_, F, Fut, C, B, P, H, Fb>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    E: 'static,
    B: MakeDelays,
    P: ShouldRetry<T, crate::Error<E>>,
    H: RetryAfter<T, crate::Error<E>>,
    Fb: ApplyFallback<T, crate::Error<E>>,
{
    type Output = Result<T, crate::Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let parts = *this.parts;
        let outcome = std::task::ready!(this.machine.poll(parts, cx));
        Poll::Ready(parts.fallback.apply_fallback(outcome))
    }
}

impl<F, Fut: TryFuture, C, B: MakeDelays, P, H, Fb> fmt::Debug for Run<'_, F, Fut, C, B, P, H, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Run");
        self.machine.describe(&mut d);
        d.finish()
    }
}

/// The maker of the tower door: the ready service taken from the pipeline's service at `call`,
/// driven to readiness again before each retry, and the request (kept for a retry through `K`).
pub(crate) struct Again<S, Req, K> {
    service: S,
    reissue: K,
    request: Option<Req>,
}

impl<S, Req, K> MakeAttempt<S::Response, S::Error, BoxError> for Again<S, Req, K>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Reissue<Req>,
{
    type Future = S::Future;

    fn prepare(&mut self, outcome: &mut Result<S::Response, BoxError>) -> bool {
        if self.request.is_none()
            && let Err(error) = outcome
        {
            self.request = self.reissue.recover(error);
        }
        self.request.is_some()
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.service.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn make(&mut self, may_retry: bool) -> Option<S::Future> {
        let request = self.request.take()?;
        if may_retry {
            self.request = self.reissue.keep(&request);
        }
        Some(self.service.call(request))
    }

    #[inline]
    fn wrap(error: S::Error) -> BoxError {
        error.into()
    }
}

pin_project! {
    /// The response future of [`PipelineService`](super::PipelineService): the same state
    /// machine as [`Run`], whose attempts are calls of the inner service.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, K, C, B, P, H, Fb>
    where
        S: Service<Req>,
        B: MakeDelays,
    {
        // The service's reference to the parts for the call's thread (one reference count per
        // call, in that thread's lane).
        parts: PartsLane<C, B, P, H, Fb>,
        #[pin]
        machine: Machine<Again<S, Req, K>, S::Future, B::Delays, Result<S::Response, BoxError>>,
    }

    impl<S, Req, K, C, B, P, H, Fb> PinnedDrop for ResponseFuture<S, Req, K, C, B, P, H, Fb>
    where
        S: Service<Req>,
        B: MakeDelays,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.machine.release(&this.parts.0);
        }
    }
}

impl<S, Req, K, C, B, P, H, Fb> ResponseFuture<S, Req, K, C, B, P, H, Fb>
where
    S: Service<Req>,
    B: MakeDelays,
{
    #[inline]
    pub(super) fn new(
        parts: PartsLane<C, B, P, H, Fb>,
        service: S,
        reissue: K,
        request: Req,
    ) -> Self {
        let again = Again {
            service,
            reissue,
            request: Some(request),
        };
        Self {
            machine: Machine::start(again, &parts.0),
            parts,
        }
    }
}

impl<S, Req, K, C, B, P, H, Fb> Future for ResponseFuture<S, Req, K, C, B, P, H, Fb>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Reissue<Req>,
    C: Classify<S::Response, S::Error>,
    B: MakeDelays,
    P: ShouldRetry<S::Response, BoxError>,
    H: RetryAfter<S::Response, BoxError>,
    Fb: ApplyFallback<S::Response, BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let parts = &***this.parts;
        let outcome = std::task::ready!(this.machine.poll(parts, cx));
        Poll::Ready(parts.fallback.apply_fallback(outcome))
    }
}

impl<S, Req, K, C, B, P, H, Fb> fmt::Debug for ResponseFuture<S, Req, K, C, B, P, H, Fb>
where
    S: Service<Req>,
    B: MakeDelays,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ResponseFuture");
        self.machine.describe(&mut d);
        d.finish()
    }
}
