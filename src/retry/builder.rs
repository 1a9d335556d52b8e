//! The builder of a [`Retry`].

use super::{
    Config, DefaultHint, Event, HintOr, InvalidRetry, OnError, Retry, RetryBudget, RetryFailures,
};
use crate::backoff::{Backoff, MakeDelays};
use crate::event::Listeners;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Retry`]; made by [`Retry::builder`]. Checked once, by [`build`](Self::build).
///
/// Defaults: 3 attempts, no deadline, [`Backoff::default`] (exponential from 100 ms, factor 2,
/// capped at 30 s, full jitter), every error retried ([`OnError`]), the [`DefaultHint`], and a
/// fresh [`RetryBudget`] with its defaults (a ratio of 0.2 of requests plus 10 per second, over
/// 10 s).
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBuilder<B = Backoff, P = OnError, H = DefaultHint> {
    max_attempts: u32,
    deadline: Option<Duration>,
    backoff: B,
    predicate: P,
    hint: H,
    budget: BudgetChoice,
    listeners: Listeners<Event>,
}

enum BudgetChoice {
    Default,
    Shared(RetryBudget),
    None,
}

impl RetryBuilder {
    pub(super) fn new() -> Self {
        Self {
            max_attempts: 3,
            deadline: None,
            backoff: Backoff::default(),
            predicate: OnError,
            hint: DefaultHint,
            budget: BudgetChoice::Default,
            listeners: Listeners::new(),
        }
    }
}

impl<B, P, H> RetryBuilder<B, P, H> {
    /// The most attempts a call makes, the first included (3 unless set; at least 1).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// A deadline across all attempts and the sleeps between them, counted from the start of the
    /// call. No sleep is entered that would end at or past it, and no attempt starts once it has
    /// passed; the attempt in flight is not cut short (bound it with a timeout). Non-zero.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The delays between attempts: a [`Backoff`], or any [`MakeDelays`] such as a closure
    /// returning an iterator of delays (a finite one ends the retries when it runs out).
    pub fn backoff<B2: MakeDelays>(self, backoff: B2) -> RetryBuilder<B2, P, H> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            deadline: self.deadline,
            backoff,
            predicate: self.predicate,
            hint: self.hint,
            budget: self.budget,
            listeners: self.listeners,
        }
    }

    /// Which outcomes are retried: `predicate` gets each outcome and returns whether to try
    /// again (limits permitting). By default every error is, and no response.
    ///
    /// Through the tower layer, outcomes are `Result<Response, BoxError>`.
    pub fn retry_if<P2>(self, predicate: P2) -> RetryBuilder<B, P2, H> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            deadline: self.deadline,
            backoff: self.backoff,
            predicate,
            hint: self.hint,
            budget: self.budget,
            listeners: self.listeners,
        }
    }

    /// Retries the outcomes `classifier` calls [`Failure`](crate::classify::Outcome::Failure),
    /// and nothing else: the same [`Classify`](crate::classify::Classify) a circuit breaker uses
    /// (a 5xx or a transport error is retried, an ignored 4xx is not).
    pub fn retry_failures<C>(self, classifier: C) -> RetryBuilder<B, RetryFailures<C>, H> {
        self.retry_if(RetryFailures(classifier))
    }

    /// Reads a delay from an outcome (an HTTP `Retry-After`) to wait instead of the backoff.
    /// `hint` returning `None` falls back to the [`DefaultHint`] (an open circuit's wait), then to
    /// the backoff. A hint is still bounded by the deadline: a call gives up rather than sleep
    /// past it. Without a deadline, a hint is followed as given, except that zero means "no hint"
    /// and `Duration::MAX` means "waiting will not help" (the call gives up).
    pub fn retry_after<F>(self, hint: F) -> RetryBuilder<B, P, HintOr<F>> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            deadline: self.deadline,
            backoff: self.backoff,
            predicate: self.predicate,
            hint: HintOr::new(hint),
            budget: self.budget,
            listeners: self.listeners,
        }
    }

    /// Uses `budget` for this retry's calls. Pass clones of one budget to several retries to
    /// make them share it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// No budget: retries are limited by attempts and the deadline only.
    pub fn no_budget(mut self) -> Self {
        self.budget = BudgetChoice::None;
        self
    }

    /// Registers a listener for this retry's [`Event`]s. Listeners run on the task that made the
    /// decision and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and returns the retry, or an error naming the field at fault.
    pub fn build(self) -> Result<Retry<B, P, H>, InvalidRetry> {
        if self.max_attempts == 0 {
            return Err(InvalidRetry::new("max_attempts", "must be at least 1"));
        }
        if self.deadline.is_some_and(|d| d.is_zero()) {
            return Err(InvalidRetry::new("deadline", "must be greater than zero"));
        }
        let budget = match self.budget {
            BudgetChoice::Default => Some(RetryBudget::builder().build()?),
            BudgetChoice::Shared(budget) => Some(budget),
            BudgetChoice::None => None,
        };
        Ok(Retry {
            shared: Arc::new(Config {
                max_attempts: self.max_attempts,
                deadline: self.deadline,
                backoff: self.backoff,
                predicate: self.predicate,
                hint: self.hint,
                budget,
                listeners: self.listeners,
            }),
        })
    }
}

impl<B, P, H> fmt::Debug for RetryBuilder<B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("max_attempts", &self.max_attempts)
            .field("deadline", &self.deadline)
            .field("backoff", &std::any::type_name::<B>())
            .field("predicate", &std::any::type_name::<P>())
            .field("hint", &std::any::type_name::<H>())
            .finish()
    }
}
