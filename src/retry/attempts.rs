//! The state machine of one call, shared by both doors: counts attempts, keeps the deadline,
//! decides after each outcome whether and when to try again, and reports what it decided.

use super::{Config, Event, GiveUpReason, RetryAfter, RetryReason, ShouldRetry};
use crate::backoff::MakeDelays;
use std::time::Duration;
use tokio::time::Instant;

/// One attempt of a call, as [`Retry::run`](super::Retry::run) hands it to the closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    deadline: Option<Instant>,
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

    /// The call's deadline across all attempts, if the retry has one: an attempt that wants to
    /// bound itself by the time left can use it.
    pub const fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// What to do after an outcome.
pub(super) enum Decision {
    /// Return the outcome.
    Stop,
    /// Try again after `delay`, if a request can be had and the budget allows it.
    Retry {
        delay: Duration,
        reason: RetryReason,
        hinted: bool,
    },
}

/// The per-call state: no allocation, and no clock read unless a deadline or a budget needs one.
pub(super) struct Attempts<D> {
    started: u32,
    deadline: Option<Instant>,
    /// Made (and boxed) at the first retry, so a call that succeeds at once never touches the
    /// backoff, and its future stays small.
    delays: Option<Box<D>>,
}

impl<D> Attempts<D> {
    /// Starts a call: records it in the budget, and fixes the deadline.
    pub(super) fn start<B, P, H>(cfg: &Config<B, P, H>) -> Self {
        let mut deadline = None;
        if cfg.budget.is_some() || cfg.deadline.is_some() {
            let now = Instant::now();
            if let Some(budget) = &cfg.budget {
                budget.deposit(now);
            }
            deadline = cfg.deadline.and_then(|d| now.checked_add(d));
        }
        Self {
            started: 1,
            deadline,
            delays: None,
        }
    }

    /// The attempt in flight.
    pub(super) fn current(&self) -> Attempt {
        Attempt {
            number: self.started,
            deadline: self.deadline,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether an attempt could follow the current one: worth keeping a copy of the request for.
    pub(super) fn may_retry<B, P, H>(&self, cfg: &Config<B, P, H>) -> bool {
        self.started < cfg.max_attempts
    }

    /// Reports that the call gave up with its last outcome.
    pub(super) fn give_up<B, P, H>(&self, cfg: &Config<B, P, H>, reason: GiveUpReason) {
        let attempts = self.started;
        cfg.listeners.emit(|| Event::GaveUp { attempts, reason });
    }

    /// Decides after `outcome`: stop, or try again after a delay. Gives up (with an event) when
    /// the outcome is final or a limit is reached; the budget is checked by [`Self::commit`].
    #[inline]
    pub(super) fn decide<B, P, H, T, E>(
        &mut self,
        cfg: &Config<B, P, H>,
        outcome: &Result<T, E>,
    ) -> Decision
    where
        B: MakeDelays<Delays = D>,
        D: Iterator<Item = Duration>,
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

    /// The limits, the delay and the deadline, for an outcome the predicate retries.
    #[inline(never)]
    fn decide_retry<B, P, H, T, E>(
        &mut self,
        cfg: &Config<B, P, H>,
        outcome: &Result<T, E>,
    ) -> Decision
    where
        B: MakeDelays<Delays = D>,
        D: Iterator<Item = Duration>,
        H: RetryAfter<T, E>,
    {
        if self.started >= cfg.max_attempts {
            self.give_up(cfg, GiveUpReason::Attempts);
            return Decision::Stop;
        }
        // A hint of zero says nothing (a circuit whose probe slots are all taken cannot tell when
        // one frees up): the backoff decides. A hint of `Duration::MAX` says waiting will not help
        // (a circuit forced open).
        let hint = cfg.hint.retry_after(outcome).filter(|d| !d.is_zero());
        if hint == Some(Duration::MAX) {
            self.give_up(cfg, GiveUpReason::NotRetryable);
            return Decision::Stop;
        }
        let delay = match hint {
            Some(delay) => delay,
            None => {
                let delays = self
                    .delays
                    .get_or_insert_with(|| Box::new(cfg.backoff.delays()));
                match delays.next() {
                    Some(delay) => delay,
                    None => {
                        self.give_up(cfg, GiveUpReason::Attempts);
                        return Decision::Stop;
                    }
                }
            }
        };
        if let Some(deadline) = self.deadline {
            // No sleep that would end at or past the deadline: an attempt must start before it.
            if Instant::now()
                .checked_add(delay)
                .is_none_or(|end| end >= deadline)
            {
                self.give_up(cfg, GiveUpReason::Deadline);
                return Decision::Stop;
            }
        }
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

    /// Takes a retry from the budget and reports the retry; false (with an event) when the
    /// budget is spent.
    pub(super) fn commit<B, P, H>(
        &mut self,
        cfg: &Config<B, P, H>,
        delay: Duration,
        reason: RetryReason,
        hinted: bool,
    ) -> bool {
        if let Some(budget) = &cfg.budget {
            if !budget.try_withdraw(Instant::now()) {
                self.give_up(cfg, GiveUpReason::Budget);
                return false;
            }
        }
        let attempt = self.started;
        cfg.listeners.emit(|| Event::Retrying {
            attempt,
            delay,
            reason,
            hinted,
        });
        true
    }

    /// Counts the next attempt as started and describes it.
    pub(super) fn next_attempt(&mut self) -> Attempt {
        self.started = self.started.saturating_add(1);
        self.current()
    }

    /// Whether the deadline has passed: no attempt starts then.
    pub(super) fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}
