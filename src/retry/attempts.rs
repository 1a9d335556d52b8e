//! The state machine of one call, shared by both doors: counts attempts, keeps the time limit,
//! decides after each outcome whether and when to try again, and reports what it decided.

use super::{Config, Event, GiveUpReason, RetryAfter, RetryReason, ShouldRetry};
use crate::backoff::{GiveUp, MakeDelays, Next, Tries};
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// One attempt of a call, as [`Retry::run`](super::Retry::run) hands it to the closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    stop_at: Option<Instant>,
}

impl Attempt {
    /// The attempt's number: 1 for the first, 2 for the first retry, ...
    pub const fn number(&self) -> u32 {
        self.number
    }

    /// Whether this attempt is a retry (its number is above 1).
    pub const fn is_retry(&self) -> bool {
        self.number > 1
    }

    /// The instant after which no attempt starts, if the retry has a
    /// [`stop_retrying_after`](super::RetryBuilder::stop_retrying_after): an attempt that wants
    /// to bound itself by the time left for retrying can use it. The retry does not cut an attempt
    /// short at this instant.
    pub const fn stop_retrying_at(&self) -> Option<Instant> {
        self.stop_at
    }
}

/// What to do after an outcome.
pub(crate) enum Decision {
    /// Return the outcome.
    Stop,
    /// Try again after `delay`, if a request can be had and the budget allows it.
    Retry {
        delay: Duration,
        reason: RetryReason,
        hinted: bool,
    },
}

/// The per-call state: the attempt core ([`Tries`]) and what the retry adds to it (the budget,
/// the predicate, open circuits, events). No allocation, and no clock read unless a time limit
/// or a budget needs one.
pub(crate) struct Attempts<D, O = ()> {
    /// Counts the attempts and keeps the time limit; the delays are in `slow`.
    tries: Tries<std::convert::Infallible>,
    /// Made at the first retry, so a call that succeeds at once never touches the backoff, and
    /// its future stays small and has one field to drop.
    slow: SlowSlot<D, O>,
}

/// `Option<Box<Slow>>` whose drop is one inlined test on the happy path (it holds `None`): the
/// box, if any, is dropped out of line. Plain drop glue for the option is a call, whose
/// prologue costs more than the test.
struct SlowSlot<D, O>(ManuallyDrop<Option<Box<Slow<D, O>>>>);

impl<D, O> Drop for SlowSlot<D, O> {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            drop_slow(&mut self.0);
        }
    }
}

/// Drops the box of a call that retried (leaving `None`, so nothing is dropped twice).
#[inline(never)]
fn drop_slow<T>(slot: &mut Option<T>) {
    drop(slot.take());
}

/// What only a call that retries needs: its delays, and (the standalone and tower doors) its
/// timer, made at the first wait and reset for later ones, and the outcome `O` of the last
/// attempt, kept while waiting.
struct Slow<D, O> {
    delays: Option<D>,
    timer: Option<Pin<Box<Sleep>>>,
    last: Option<O>,
}

impl<D, O> Slow<D, O> {
    /// The one in `slot`, made (boxed) if there is none yet.
    fn of(slot: &mut Option<Box<Self>>) -> &mut Self {
        slot.get_or_insert_with(|| {
            Box::new(Slow {
                delays: None,
                timer: None,
                last: None,
            })
        })
    }
}

impl<D, O> Attempts<D, O> {
    /// Starts a call: records it in the budget, and fixes the instant retrying stops.
    pub(crate) fn start<B, P, H>(cfg: &Config<B, P, H>) -> Self {
        Self::start_with(cfg, Instant::now)
    }

    /// [`start`](Self::start), with the clock read by `now` (called at most once, and only if
    /// the budget or a time limit needs the time): a caller that reads the clock anyway shares
    /// its reading.
    pub(crate) fn start_with<B, P, H>(
        cfg: &Config<B, P, H>,
        now: impl FnOnce() -> Instant,
    ) -> Self {
        let mut stop_at = None;
        if cfg.reads_clock {
            let now = now();
            if let Some(budget) = &cfg.budget {
                budget.deposit(now);
            }
            stop_at = cfg.stop_retrying_after.and_then(|d| now.checked_add(d));
        }
        Self {
            tries: Tries::start_until(cfg.max_attempts, stop_at),
            slow: SlowSlot(ManuallyDrop::new(None)),
        }
    }

    /// The attempt in flight.
    pub(crate) fn current(&self) -> Attempt {
        Attempt {
            number: self.tries.number(),
            stop_at: self.tries.stop_at(),
        }
    }

    pub(crate) fn stop_at(&self) -> Option<Instant> {
        self.tries.stop_at()
    }

    /// Whether an attempt could follow the current one: worth keeping a copy of the request for.
    pub(crate) fn may_retry(&self) -> bool {
        self.tries.attempts_left()
    }

    /// Reports that the call gave up with its last outcome.
    pub(crate) fn give_up<B, P, H>(&self, cfg: &Config<B, P, H>, reason: GiveUpReason) {
        let attempts = self.tries.number();
        cfg.listeners.emit(|name| Event::GaveUp {
            name,
            attempts,
            reason,
        });
    }

    /// Takes a retry from the budget and reports the retry; false (with an event) when the
    /// budget is spent.
    pub(crate) fn commit<B, P, H>(
        &mut self,
        cfg: &Config<B, P, H>,
        delay: Duration,
        reason: RetryReason,
        hinted: bool,
    ) -> bool {
        if let Some(budget) = &cfg.budget
            && !budget.try_withdraw(Instant::now())
        {
            self.give_up(cfg, GiveUpReason::Budget);
            return false;
        }
        let attempt = self.tries.number();
        cfg.listeners.emit(|name| Event::Retrying {
            name,
            attempt,
            delay,
            reason,
            hinted,
        });
        true
    }

    /// Counts the next attempt as started and describes it.
    pub(crate) fn next_attempt(&mut self) -> Attempt {
        self.tries.begin_next();
        self.current()
    }

    /// Whether the time for retrying has run out: no attempt starts then.
    pub(crate) fn past_stop(&self) -> bool {
        self.tries.past_stop()
    }

    /// The call's timer slot (for waits between attempts); the timer is made at the first wait.
    pub(crate) fn timer(&mut self) -> &mut Option<Pin<Box<Sleep>>> {
        &mut Slow::of(&mut self.slow.0).timer
    }

    /// Keeps the outcome of the last attempt while waiting for the next.
    pub(crate) fn keep_last(&mut self, outcome: O) {
        Slow::of(&mut self.slow.0).last = Some(outcome);
    }

    /// The outcome kept by [`keep_last`](Self::keep_last), taken.
    pub(crate) fn take_last(&mut self) -> Option<O> {
        self.slow.0.as_mut()?.last.take()
    }

    /// The call's timer if one was made.
    pub(crate) fn timer_if_made(&mut self) -> Option<Pin<&mut Sleep>> {
        self.slow.0.as_mut()?.timer.as_mut().map(|t| t.as_mut())
    }
}

impl<D: Iterator<Item = Duration>, O> Attempts<D, O> {
    /// Decides after `outcome`: stop, or try again after a delay. Gives up (with an event) when
    /// the outcome is final or a limit is reached; the budget is checked by [`Self::commit`].
    #[inline]
    pub(crate) fn decide<B, P, H, T, E>(
        &mut self,
        cfg: &Config<B, P, H>,
        outcome: &Result<T, E>,
    ) -> Decision
    where
        B: MakeDelays<Delays = D>,
        P: ShouldRetry<T, E>,
        H: RetryAfter<T, E>,
    {
        if !cfg.predicate.should_retry(outcome) {
            if outcome.is_err() {
                self.give_up(cfg, GiveUpReason::NotRetryable);
            }
            return Decision::Stop;
        }
        self.decide_retry(cfg, outcome)
    }

    /// The limits, the delay and the time left, for an outcome the predicate retries.
    #[inline(never)]
    fn decide_retry<B, P, H, T, E>(
        &mut self,
        cfg: &Config<B, P, H>,
        outcome: &Result<T, E>,
    ) -> Decision
    where
        B: MakeDelays<Delays = D>,
        H: RetryAfter<T, E>,
    {
        // An open circuit: fail fast, unless waiting for it was asked for and the wait is short
        // enough (a circuit forced open says `Duration::MAX`: waiting will not help).
        let open = cfg.hint.open_circuit(outcome);
        if let Some(wait) = open
            && cfg.open_circuit_wait.is_none_or(|max| wait > max)
        {
            self.give_up(cfg, GiveUpReason::CircuitOpen);
            return Decision::Stop;
        }
        if !self.tries.attempts_left() {
            self.give_up(cfg, GiveUpReason::Attempts);
            return Decision::Stop;
        }
        // A half-open circuit with every probe slot taken cannot say when one frees up (it says
        // zero): the backoff decides. Otherwise an open circuit's wait, or the outcome's own hint
        // (zero: at once; `Duration::MAX`: waiting will not help).
        let hint = match open {
            Some(wait) => Some(wait).filter(|w| !w.is_zero()),
            None => cfg.hint.retry_after(outcome),
        };
        if hint == Some(Duration::MAX) {
            self.give_up(cfg, GiveUpReason::NotRetryable);
            return Decision::Stop;
        }
        let delays = &mut Slow::of(&mut self.slow.0).delays;
        let delay = match self
            .tries
            .next_delay_with(delays, hint, || cfg.backoff.delays())
        {
            Next::RetryAfter(delay) => delay,
            Next::GiveUp(why) => {
                let reason = match why {
                    GiveUp::Attempts => GiveUpReason::Attempts,
                    GiveUp::TimeUp => GiveUpReason::TimeUp,
                };
                self.give_up(cfg, reason);
                return Decision::Stop;
            }
        };
        let reason = if outcome.is_err() {
            RetryReason::Error
        } else {
            RetryReason::Response
        };
        Decision::Retry {
            delay,
            reason,
            hinted: hint.is_some(),
        }
    }
}
