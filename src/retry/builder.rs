//! The builder of a [`Retry`].

use super::{Config, DefaultHint, Event, HintOr, OnError, Retry, RetryBudget, RetryFailures};
use crate::ConfigError;
use crate::backoff::{Backoff, MakeDelays};
use crate::event::Listeners;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Retry`]; made by [`Retry::builder`]. Checked once, by [`build`](Self::build).
///
/// Defaults: 3 attempts, no time limit for retrying, an open circuit ends the call at once (no
/// [`wait_for_open_circuit`](Self::wait_for_open_circuit)), [`Backoff::default`] (exponential from
/// 100 ms, factor 2, capped at 30 s, full jitter), every error retried ([`OnError`]), the
/// [`DefaultHint`], and a
/// fresh [`RetryBudget`] with its defaults (a ratio of 0.2 of requests plus 10 per second, over
/// 10 s), named `"retry"`.
///
/// ```
/// use std::time::Duration;
/// use bulwark::backoff::Backoff;
/// use bulwark::retry::{Retry, RetryBudget};
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let retry = Retry::builder()
///     .name("inventory")
///     .max_attempts(4)
///     .stop_retrying_after(Duration::from_secs(5))
///     .backoff(Backoff::exponential(Duration::from_millis(50)).build()?)
///     .budget(RetryBudget::builder().ratio(0.1).build()?)
///     .build()?;
/// # let _ = retry;
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBuilder<B = Backoff, P = OnError, H = DefaultHint> {
    max_attempts: u32,
    stop_retrying_after: Option<Duration>,
    open_circuit_wait: Option<Duration>,
    backoff: B,
    predicate: P,
    hint: H,
    budget: BudgetChoice,
    listeners: Listeners<Event>,
    /// A setting rejected by `settings`, returned by `build()`.
    rejected: Option<ConfigError>,
}

pub(super) enum BudgetChoice {
    Default,
    Shared(RetryBudget),
    /// A budget of its own, built by `build()` from these settings.
    Own(super::BudgetSettings),
    None,
}

impl RetryBuilder {
    pub(super) fn new() -> Self {
        Self {
            max_attempts: 3,
            stop_retrying_after: None,
            open_circuit_wait: None,
            backoff: Backoff::default(),
            predicate: OnError,
            hint: DefaultHint,
            budget: BudgetChoice::Default,
            listeners: Listeners::new(&"retry"),
            rejected: None,
        }
    }
}

impl<B, P, H> RetryBuilder<B, P, H> {
    /// The most attempts a call makes, the first included (3 unless set; at least 1).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// A time limit for *starting* attempts, counted from the start of the call: once `limit`
    /// has passed no attempt starts, and no sleep is entered that would end at or past it
    /// (whatever the backoff or a hint asks for); the call then returns its last outcome. Non-zero.
    ///
    /// It does not cut short the attempt in flight, so a call can last `limit` plus one attempt.
    /// To bound the whole call, put a timeout *outside* the retry (the
    /// [`Pipeline`](crate::pipeline::Pipeline)'s `total_timeout`, or a
    /// [`Timeout`](crate::timeout) layer above the retry layer); to bound each attempt, a timeout
    /// inside it. [`Attempt::stop_retrying_at`](super::Attempt::stop_retrying_at) gives an
    /// attempt the instant, to bound itself by.
    pub fn stop_retrying_after(mut self, limit: Duration) -> Self {
        self.stop_retrying_after = Some(limit);
        self
    }

    /// Waits for an open circuit instead of giving up at once, when it may admit calls again
    /// within `max`.
    ///
    /// By default a call whose attempt is rejected by an open circuit (a
    /// [`CircuitOpen`](crate::circuit_breaker::CircuitOpen), seen by the [`DefaultHint`]) ends
    /// at once with that rejection ([`GiveUpReason::CircuitOpen`](super::GiveUpReason::CircuitOpen)):
    /// it fails fast, as Resilience4j and Polly do, instead of holding its caller for the rest of
    /// the open duration. With this setting, the call sleeps until the circuit may admit calls
    /// (its `retry_after`) and tries again, as long as that is at most `max` and within
    /// [`stop_retrying_after`](Self::stop_retrying_after), and an attempt is left; a half-open
    /// circuit with every probe slot taken is retried after the backoff's delay. A circuit forced
    /// open is never waited for. Non-zero.
    pub fn wait_for_open_circuit(mut self, max: Duration) -> Self {
        self.open_circuit_wait = Some(max);
        self
    }

    /// The delays between attempts: a [`Backoff`], or any [`MakeDelays`] such as a closure
    /// returning an iterator of delays (a finite one ends the retries when it runs out).
    pub fn backoff<B2: MakeDelays>(self, backoff: B2) -> RetryBuilder<B2, P, H> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            stop_retrying_after: self.stop_retrying_after,
            open_circuit_wait: self.open_circuit_wait,
            backoff,
            predicate: self.predicate,
            hint: self.hint,
            budget: self.budget,
            listeners: self.listeners,
            rejected: self.rejected,
        }
    }

    /// Which outcomes are retried: `predicate` gets each outcome and returns whether to try
    /// again (limits permitting). By default every error is, and no response.
    ///
    /// Through the tower layer, outcomes are `Result<Response, BoxError>`.
    pub fn retry_if<P2>(self, predicate: P2) -> RetryBuilder<B, P2, H> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            stop_retrying_after: self.stop_retrying_after,
            open_circuit_wait: self.open_circuit_wait,
            backoff: self.backoff,
            predicate,
            hint: self.hint,
            budget: self.budget,
            listeners: self.listeners,
            rejected: self.rejected,
        }
    }

    /// Retries the outcomes `classifier` calls [`Failure`](crate::classify::Verdict::Failure),
    /// and nothing else: the same [`Classify`](crate::classify::Classify) a circuit breaker uses
    /// (a 5xx or a transport error is retried, an ignored 4xx is not).
    pub fn retry_failures<C>(self, classifier: C) -> RetryBuilder<B, RetryFailures<C>, H> {
        self.retry_if(RetryFailures(classifier))
    }

    /// Reads a delay from an outcome (an HTTP `Retry-After`) to wait instead of the backoff.
    /// `hint` returning `None` means no hint: the backoff decides. `Some(Duration::ZERO)` means
    /// "try again now", and `Some(Duration::MAX)` "waiting will not help" (the call gives up). A
    /// hint is still bounded by [`stop_retrying_after`](Self::stop_retrying_after): a call gives up
    /// rather than sleep past it. An open circuit is not a hint: the [`DefaultHint`] behind yours
    /// recognises it, and [`wait_for_open_circuit`](Self::wait_for_open_circuit) decides.
    pub fn retry_after<F>(self, hint: F) -> RetryBuilder<B, P, HintOr<F>> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            stop_retrying_after: self.stop_retrying_after,
            open_circuit_wait: self.open_circuit_wait,
            backoff: self.backoff,
            predicate: self.predicate,
            hint: HintOr::new(hint),
            budget: self.budget,
            listeners: self.listeners,
            rejected: self.rejected,
        }
    }

    /// The hint as it is (not combined with the default one as [`retry_after`](Self::retry_after)
    /// does): for hints that are types of the crate's own.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn hint<H2>(self, hint: H2) -> RetryBuilder<B, P, H2> {
        RetryBuilder {
            max_attempts: self.max_attempts,
            stop_retrying_after: self.stop_retrying_after,
            open_circuit_wait: self.open_circuit_wait,
            backoff: self.backoff,
            predicate: self.predicate,
            hint,
            budget: self.budget,
            listeners: self.listeners,
            rejected: self.rejected,
        }
    }

    /// A builder holding `retry`'s settings (the same budget, if it has one, and the same
    /// listeners), to change some of them.
    #[cfg_attr(
        not(all(feature = "timeout", feature = "circuit-breaker", feature = "bulkhead")),
        allow(dead_code, reason = "used by the pipeline")
    )]
    pub(crate) fn from_retry(retry: &Retry<B, P, H>) -> Self
    where
        B: Clone,
        P: Clone,
        H: Clone,
    {
        let s = &retry.shared;
        RetryBuilder {
            max_attempts: s.max_attempts,
            stop_retrying_after: s.stop_retrying_after,
            open_circuit_wait: s.open_circuit_wait,
            backoff: s.backoff.clone(),
            predicate: s.predicate.clone(),
            hint: s.hint.clone(),
            budget: match &s.budget {
                Some(budget) => BudgetChoice::Shared(budget.clone()),
                None => BudgetChoice::None,
            },
            listeners: s.listeners.clone(),
            rejected: None,
        }
    }

    /// Uses `budget` for this retry's calls. Pass clones of one budget to several retries to
    /// make them share it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// No budget: retries are limited by attempts and `stop_retrying_after` only.
    pub fn no_budget(mut self) -> Self {
        self.budget = BudgetChoice::None;
        self
    }

    /// Names the retry (`"payments"`): the name is in its events, `tracing` fields and metric
    /// labels. Default: `"retry"`.
    pub fn name(mut self, name: impl Into<crate::Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for this retry's [`Event`]s. Listeners run on the task that made the
    /// decision and should return quickly.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings and returns the retry, or an error naming the field at fault.
    pub fn build(self) -> Result<Retry<B, P, H>, ConfigError> {
        if let Some(e) = self.rejected {
            return Err(e);
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "retry",
                "max_attempts",
                "must be at least 1",
            ));
        }
        if self.stop_retrying_after.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new(
                "retry",
                "stop_retrying_after",
                "must be greater than zero",
            ));
        }
        if self.open_circuit_wait.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new(
                "retry",
                "wait_for_open_circuit",
                "must be greater than zero (leave it unset to fail fast on an open circuit)",
            ));
        }
        let budget = match self.budget {
            BudgetChoice::Default => Some(RetryBudget::builder().build()?),
            BudgetChoice::Shared(budget) => Some(budget),
            BudgetChoice::Own(settings) => {
                Some(RetryBudget::builder().settings(&settings).build()?)
            }
            BudgetChoice::None => None,
        };
        let reads_clock = budget.is_some() || self.stop_retrying_after.is_some();
        Ok(Retry {
            shared: Arc::new(Config {
                max_attempts: self.max_attempts,
                stop_retrying_after: self.stop_retrying_after,
                open_circuit_wait: self.open_circuit_wait,
                backoff: self.backoff,
                predicate: self.predicate,
                hint: self.hint,
                budget,
                listeners: self.listeners.finish(),
                reads_clock,
            }),
        })
    }
}

impl<B, P, H> RetryBuilder<B, P, H> {
    pub(super) fn with_limits(
        mut self,
        stop_retrying_after: Option<Duration>,
        open_circuit_wait: Option<Duration>,
    ) -> Self {
        self.stop_retrying_after = stop_retrying_after;
        self.open_circuit_wait = open_circuit_wait;
        self
    }

    pub(super) fn with_budget(mut self, budget: BudgetChoice) -> Self {
        self.budget = budget;
        self
    }

    /// Keeps the first rejected setting for `build()` to return.
    pub(super) fn reject(&mut self, e: ConfigError) {
        self.rejected.get_or_insert(e);
    }
}

impl<B, P, H> fmt::Debug for RetryBuilder<B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("max_attempts", &self.max_attempts)
            .field("stop_retrying_after", &self.stop_retrying_after)
            .field("wait_for_open_circuit", &self.open_circuit_wait)
            .field("backoff", &std::any::type_name::<B>())
            .field("predicate", &std::any::type_name::<P>())
            .field("hint", &std::any::type_name::<H>())
            .finish()
    }
}
