//! Tries a failed call again, within limits: attempts, a deadline, and a budget shared by all
//! callers so retries cannot turn an outage into a storm.
//!
//! Use it for calls that fail transiently (a reset connection, a 503 from a busy server) and are
//! safe to repeat. Put it outside a per-attempt timeout and inside a circuit breaker's view of
//! the world: an open circuit's error says when to come back, and the retry waits that long
//! instead of hammering it.
//!
//! # Standalone
//!
//! [`Retry::run`] takes a closure that builds each attempt; it gets the [`Attempt`] (its number,
//! the deadline). The result is the first outcome that is not retried, or the last one when a
//! limit is reached: errors are never wrapped.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::backoff::{Backoff, Jitter};
//! use bulwark::retry::Retry;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let retry = Retry::builder()
//!     .max_attempts(4)
//!     .deadline(Duration::from_secs(10))
//!     .backoff(
//!         Backoff::exponential(Duration::from_millis(100))
//!             .max_delay(Duration::from_secs(2))
//!             .jitter(Jitter::Full)
//!             .build()?,
//!     )
//!     .build()?;
//!
//! let reply = retry
//!     .run(|attempt| async move {
//!         if attempt.number() < 3 { Err("connection reset") } else { Ok("pong") }
//!     })
//!     .await;
//! assert_eq!(reply, Ok("pong"));
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`Retry::layer`] (or [`ServiceBuilderExt::bulwark_retry`](crate::ServiceBuilderExt::bulwark_retry))
//! wraps a service; its errors are [`BoxError`](crate::BoxError)s, and the predicate and hints see
//! outcomes as `Result<Response, BoxError>`.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use bulwark::ServiceBuilderExt;
//! use bulwark::retry::Retry;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let retry = Retry::builder().max_attempts(3).build()?;
//! let calls = Arc::new(AtomicU32::new(0));
//! let mut svc = ServiceBuilder::new()
//!     .bulwark_retry(&retry)
//!     .concurrency_limit(1)
//!     .service(service_fn(move |id: u64| {
//!         let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
//!         async move { if first { Err(BoxError::from("busy")) } else { Ok(id) } }
//!     }));
//!
//! assert_eq!(svc.ready().await?.call(42).await?, 42);
//! # Ok(())
//! # }
//! ```
//!
//! Before every attempt after the first, the response future drives its own clone of the inner
//! service to readiness, then calls it: a clone that was not made ready is never called (tower's
//! `ConcurrencyLimit` panics on exactly that).
//!
//! # Which outcomes, and how long to wait
//!
//! By default every error is retried ([`OnError`]) and no response is. [`RetryBuilder::retry_if`]
//! takes a predicate over the whole outcome, so a 503 response can be retried and a 400 error
//! not. [`RetryBuilder::retry_after`] reads a delay from the outcome (an HTTP `Retry-After`) that
//! replaces the backoff for that wait:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::retry::Retry;
//! use tower::BoxError;
//!
//! struct Response { status: u16, retry_after_secs: Option<u64> }
//!
//! # fn main() -> Result<(), bulwark::retry::InvalidRetry> {
//! let retry = Retry::builder()
//!     .deadline(Duration::from_secs(30))
//!     .retry_if(|out: &Result<Response, BoxError>| match out {
//!         Ok(resp) => matches!(resp.status, 429 | 502 | 503 | 504),
//!         Err(_) => true,
//!     })
//!     .retry_after(|out: &Result<Response, BoxError>| {
//!         out.as_ref().ok()?.retry_after_secs.map(Duration::from_secs)
//!     })
//!     .build()?;
//! # let _ = retry;
//! # Ok(())
//! # }
//! ```
//!
//! The [`DefaultHint`] stays behind any hint of yours: an error of another bulwark pattern that
//! knows when to come back (an open circuit) makes the retry wait that long, and give up rather
//! than wait past the deadline.
//!
//! # Limits
//!
//! - [`max_attempts`](RetryBuilder::max_attempts), the first included (3 by default).
//! - [`deadline`](RetryBuilder::deadline) across all attempts and sleeps, from the start of the
//!   call: no sleep is entered that would end at or past it (hinted or not), and no attempt starts
//!   once it has passed. The attempt in flight is not cut short: bound each attempt with a timeout
//!   inside the retry (or the whole call with one outside it).
//! - A [`RetryBudget`] (on by default: 20 % of the requests of the last 10 s, plus 10 per
//!   second). Every call deposits, every retry withdraws, exactly, for any percentage. Share a
//!   budget between retries with [`RetryBuilder::budget`].
//!
//! When a limit stops a call, the caller gets the last outcome, and an [`Event::GaveUp`] says why
//! ([`GiveUpReason`]). The retry adds no error of its own.
//!
//! # Requests that are not `Clone`
//!
//! The layer needs a request for each attempt. By default it clones one ([`CloneRequest`]) just
//! before an attempt that may be followed by another (attempts left), never before the last
//! attempt, and never at all when `max_attempts` is 1. A request whose clone allocates therefore
//! allocates once per call when retries are possible: a copy must exist before the original is
//! sent. For requests that cannot be cloned (streaming bodies), choose another [`Replay`]:
//! [`RetryLayer::rebuild_with`] makes the copy from a request (from a buffered body, say), and
//! [`RetryLayer::recover_with`] takes the request back from an error that carries it (clients that
//! fail before sending give it back). A request for which no copy can be had is sent once.
//!
//! # Clone
//!
//! [`Retry`] is an `Arc`: its clones, its layers and every service made from them share one
//! configuration and one budget. A [`RetryService`] clone clones the inner service. Each call
//! keeps its own clone of the inner service for its retries.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's `poll_ready`. A retry drives its call's own clone of the
//! inner service to readiness, so it waits for capacity like any caller, bounded by the deadline;
//! while it sleeps between attempts it holds no capacity (no permit, no slot). A spent budget is
//! never an error from `poll_ready`: the call returns its last outcome.
//!
//! # Cancellation
//!
//! Dropping the future ([`Run`] or [`ResponseFuture`]) drops the attempt in flight, the sleep and
//! the inner service's clone with any readiness it holds: no further attempt is made.
//!
//! # Cost
//!
//! When the first attempt succeeds, a call allocates nothing (a test proves it): its state is
//! inline in the future. The backoff iterator (with its random generator) and the timer are made
//! at the first retry that needs them, boxed so the happy-path future stays small: a call that
//! retries allocates them once. A call reads the clock once, at the start, only if a deadline or a
//! budget is set, and the budget's deposit is one atomic add. Through the layer, each call copies
//! the configuration (no shared reference count, unless a budget or listeners are set) and, when a
//! retry may follow, clones the inner service and the request.
//!
//! # Events
//!
//! [`RetryBuilder::on_event`] registers listeners for [`Event`]s (retrying, gave up); with the
//! `tracing` feature every event is also a `tracing` event with target `bulwark::retry`.

mod attempts;
mod budget;
mod builder;
mod error;
pub mod future;
mod layer;
mod policy;
mod replay;
mod service;

use crate::backoff::{Backoff, MakeDelays};
use crate::event::{Listeners, PatternEvent};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use attempts::Attempt;
pub use budget::{BudgetMetrics, RetryBudget, RetryBudgetBuilder};
pub use builder::RetryBuilder;
pub use error::InvalidRetry;
pub use future::{ResponseFuture, Run};
pub use layer::RetryLayer;
pub use policy::{DefaultHint, HintOr, OnError, RetryAfter, ShouldRetry};
pub use replay::{CloneRequest, RebuildWith, RecoverWith, Replay};
pub use service::RetryService;

/// Tries a call again when it fails, within limits; the handle of the retry pattern.
///
/// Built with [`Retry::builder`] (or [`Retry::default`]). Cheap to clone: an `Arc` inside, so
/// every clone, every [`layer`](Self::layer) and every service made from it share one
/// configuration and one [`RetryBudget`].
pub struct Retry<B = Backoff, P = OnError, H = DefaultHint> {
    shared: Arc<Config<B, P, H>>,
}

/// A retry's configuration. The tower door copies it into each call's future (when `B`, `P` and
/// `H` are `Clone`), so a call touches no reference count shared with other threads unless a
/// budget or listeners are set.
struct Config<B, P, H> {
    max_attempts: u32,
    deadline: Option<Duration>,
    backoff: B,
    predicate: P,
    hint: H,
    budget: Option<RetryBudget>,
    listeners: Listeners<Event>,
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
        let shared = Config {
            max_attempts: 3,
            deadline: None,
            backoff: Backoff::default(),
            predicate: OnError,
            hint: DefaultHint,
            budget: RetryBudget::builder().build().ok(),
            listeners: Listeners::new(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<B, P, H> Retry<B, P, H> {
    /// Runs a call, trying again as configured. `make` builds each attempt's future and gets the
    /// [`Attempt`] (its number, the deadline). Resolves to the first outcome that is not retried,
    /// or the last outcome when a limit is reached.
    ///
    /// The first attempt is built now, and the deadline (if any) starts now.
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
    /// Requests are cloned to be sent again ([`CloneRequest`]); see [`RetryLayer::rebuild_with`]
    /// and [`RetryLayer::recover_with`] for requests that are not `Clone`.
    pub fn layer(&self) -> RetryLayer<B, P, H> {
        RetryLayer::new(self.clone())
    }

    /// The budget this retry draws from, if it has one.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.shared.budget.as_ref()
    }

    /// The most attempts a call makes, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.shared.max_attempts
    }

    /// The deadline across all attempts of a call, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.shared.deadline
    }
}

impl<B: Clone, P: Clone, H: Clone> Clone for Config<B, P, H> {
    fn clone(&self) -> Self {
        Self {
            max_attempts: self.max_attempts,
            deadline: self.deadline,
            backoff: self.backoff.clone(),
            predicate: self.predicate.clone(),
            hint: self.hint.clone(),
            budget: self.budget.clone(),
            listeners: self.listeners.clone(),
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

impl<B, P, H> fmt::Debug for Retry<B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Retry")
            .field("max_attempts", &s.max_attempts)
            .field("deadline", &s.deadline)
            .field("backoff", &std::any::type_name::<B>())
            .field("predicate", &std::any::type_name::<P>())
            .field("hint", &std::any::type_name::<H>())
            .field("budget", &s.budget)
            .field("listeners", &s.listeners)
            .finish()
    }
}

/// Something that happened in a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt's outcome is retried: the next attempt starts after `delay`.
    Retrying {
        /// The number of the attempt that just ended (1 for the first).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// What made the outcome retryable.
        reason: RetryReason,
        /// Whether the delay came from a hint ([`RetryBuilder::retry_after`], an open circuit)
        /// rather than from the backoff.
        hinted: bool,
    },
    /// A call stopped retrying and returned its last outcome.
    GaveUp {
        /// Attempts made, the first included.
        attempts: u32,
        /// Why it stopped.
        reason: GiveUpReason,
    },
}

/// What made an outcome retryable; see [`Event::Retrying`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// The attempt failed with an error the predicate retries.
    Error,
    /// The attempt returned a response the predicate retries (an HTTP 503, say).
    Response,
}

/// Why a call stopped retrying; see [`Event::GaveUp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The maximum number of attempts was reached, or a finite backoff ran out of delays.
    Attempts,
    /// The next sleep would have ended at or past the deadline, or the deadline passed while
    /// waiting for the inner service to become ready.
    Deadline,
    /// The retry budget was spent.
    Budget,
    /// The predicate does not retry this error.
    NotRetryable,
    /// No copy of the request could be had to send again (tower layer only).
    NoRequest,
}

impl GiveUpReason {
    /// A short lower-case name, as used in `tracing` events.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Attempts => "attempts",
            Self::Deadline => "deadline",
            Self::Budget => "budget",
            Self::NotRetryable => "not retryable",
            Self::NoRequest => "no request",
        }
    }
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::Retrying {
                attempt,
                delay,
                reason,
                hinted,
            } => tracing::info!(
                target: "bulwark::retry",
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = ?reason,
                hinted,
                "retrying"
            ),
            Event::GaveUp { attempts, reason } => tracing::warn!(
                target: "bulwark::retry",
                attempts,
                reason = reason.as_str(),
                "gave up"
            ),
        }
    }
}
