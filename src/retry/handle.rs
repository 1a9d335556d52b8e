//! The handle of the retry pattern.

use super::{
    Attempt, DefaultHint, Event, OnError, RetryAfter, RetryBudget, RetryBuilder, RetryLayer, Run,
    ShouldRetry,
};
use crate::backoff::{Backoff, MakeDelays};
use crate::event::Listeners;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Tries a call again when it fails, within limits; the handle of the retry pattern.
///
/// Built with [`Retry::builder`] (or [`Retry::default`]). Cheap to clone: an `Arc` inside, so
/// every clone, every [`layer`](Self::layer) and every service made from it share one
/// configuration and one [`RetryBudget`].
///
/// ```
/// use bulwark::retry::Retry;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let retry = Retry::builder().max_attempts(3).build()?;
/// let reply = retry
///     .run(|attempt| async move {
///         if attempt.number() < 3 {
///             Err(std::io::Error::other("connection reset"))
///         } else {
///             Ok("stock: 12")
///         }
///     })
///     .await;
/// assert_eq!(reply.unwrap(), "stock: 12");
/// # Ok(())
/// # }
/// ```
pub struct Retry<B = Backoff, P = OnError, H = DefaultHint> {
    pub(crate) shared: Arc<Config<B, P, H>>,
}

/// A retry's configuration. Each tower service made by `Layer::layer` holds a copy of its own
/// (shared by its clones), and each call's future a reference to that copy: a call copies no
/// configuration, and touches no reference count shared with services made by other `layer`
/// calls.
pub(crate) struct Config<B, P, H> {
    pub(super) max_attempts: u32,
    pub(super) stop_retrying_after: Option<Duration>,
    /// How long an open circuit may be waited for; `None`: fail fast.
    pub(super) open_circuit_wait: Option<Duration>,
    pub(super) backoff: B,
    pub(super) predicate: P,
    pub(super) hint: H,
    pub(super) budget: Option<RetryBudget>,
    pub(super) listeners: Listeners<Event>,
    /// Whether a call reads the clock when it starts: a budget or `stop_retrying_after` is set
    /// (kept apart so that a call tests one flag, not both settings).
    pub(super) reads_clock: bool,
}

impl Retry {
    /// A builder; its defaults are listed on [`RetryBuilder`].
    pub fn builder() -> RetryBuilder {
        RetryBuilder::new()
    }
}

impl Default for Retry {
    /// A retry with the defaults of [`RetryBuilder`].
    fn default() -> Self {
        let budget = RetryBudget::builder().build().ok();
        let shared = Config {
            max_attempts: 3,
            stop_retrying_after: None,
            open_circuit_wait: None,
            backoff: Backoff::default(),
            predicate: OnError,
            hint: DefaultHint,
            reads_clock: budget.is_some(),
            budget,
            listeners: Listeners::new(&"retry").finish(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<B, P, H> Retry<B, P, H> {
    /// Runs a call, trying again as configured. `make` builds each attempt's future and gets the
    /// [`Attempt`] (its number, when retrying stops). Resolves to the first outcome that is not
    /// retried, or the last outcome when a limit is reached.
    ///
    /// The first attempt is built now, and the time for retrying (if limited) starts now.
    pub fn run<F, Fut, T, E>(&self, make: F) -> Run<F, Fut, B, P, H>
    where
        B: MakeDelays,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        P: ShouldRetry<T, E>,
        H: RetryAfter<T, E>,
    {
        Run::new(self.clone(), make)
    }

    /// A tower layer whose services retry with this handle's configuration and budget.
    ///
    /// Requests are cloned to be sent again ([`CloneRequest`](super::CloneRequest)); see [`RetryLayer::rebuild_with`]
    /// and [`RetryLayer::recover_with`] for requests that are not `Clone`.
    pub fn layer(&self) -> RetryLayer<B, P, H> {
        RetryLayer::new(self.clone())
    }

    /// The same retry (limits, backoff, predicate, budget, listeners) with another hint, made
    /// from this one's. The budget is shared with `self`.
    #[cfg(all(feature = "timeout", feature = "circuit-breaker", feature = "bulkhead"))]
    pub(crate) fn map_hint<H2>(&self, f: impl FnOnce(&H) -> H2) -> Retry<B, P, H2>
    where
        B: Clone,
        P: Clone,
    {
        let s = &self.shared;
        Retry {
            shared: Arc::new(Config {
                max_attempts: s.max_attempts,
                stop_retrying_after: s.stop_retrying_after,
                open_circuit_wait: s.open_circuit_wait,
                backoff: s.backoff.clone(),
                predicate: s.predicate.clone(),
                hint: f(&s.hint),
                budget: s.budget.clone(),
                listeners: s.listeners.clone(),
                reads_clock: s.reads_clock,
            }),
        }
    }

    /// The budget this retry draws from, if it has one.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.shared.budget.as_ref()
    }

    /// The most attempts a call makes, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.shared.max_attempts
    }

    /// How long after a call starts no new attempt starts, if set; see
    /// [`RetryBuilder::stop_retrying_after`].
    pub fn stop_retrying_after(&self) -> Option<Duration> {
        self.shared.stop_retrying_after
    }

    /// The longest an open circuit is waited for, if set; see
    /// [`RetryBuilder::wait_for_open_circuit`]. `None`: an open circuit ends the call at once.
    pub fn wait_for_open_circuit(&self) -> Option<Duration> {
        self.shared.open_circuit_wait
    }
}

impl<B: Clone, P: Clone, H: Clone> Clone for Config<B, P, H> {
    fn clone(&self) -> Self {
        Self {
            max_attempts: self.max_attempts,
            stop_retrying_after: self.stop_retrying_after,
            open_circuit_wait: self.open_circuit_wait,
            backoff: self.backoff.clone(),
            predicate: self.predicate.clone(),
            hint: self.hint.clone(),
            budget: self.budget.clone(),
            listeners: self.listeners.clone(),
            reads_clock: self.reads_clock,
        }
    }
}

impl<B, P, H> Clone for Retry<B, P, H> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<B: Clone, P: Clone, H: Clone> Retry<B, P, H> {
    /// A keyed retry's instance for a new key: the same settings, listeners and budget (shared on
    /// purpose: a budget per key would multiply the floor of retries by the number of keys), in
    /// its own allocation, so keys do not share one reference count.
    #[cfg(feature = "keyed")]
    pub(crate) fn fresh(&self) -> Self {
        self.local_copy()
    }

    /// A handle to a copy of this configuration (the same budget and listeners).
    pub(super) fn local_copy(&self) -> Self {
        Self {
            shared: Arc::new(Config::clone(&self.shared)),
        }
    }
}

impl<B, P, H> fmt::Debug for Retry<B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Retry")
            .field("max_attempts", &s.max_attempts)
            .field("stop_retrying_after", &s.stop_retrying_after)
            .field("wait_for_open_circuit", &s.open_circuit_wait)
            .field("backoff", &std::any::type_name::<B>())
            .field("predicate", &std::any::type_name::<P>())
            .field("hint", &std::any::type_name::<H>())
            .field("budget", &s.budget)
            .field("listeners", &s.listeners)
            .finish()
    }
}
