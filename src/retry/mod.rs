//! Tries a failed call again, within limits: attempts, a time limit for starting attempts, and a
//! budget shared by all callers so retries cannot turn an outage into a storm.
//!
//! Use it for calls that fail transiently (a reset connection, a 503 from a busy server) and are
//! safe to repeat. Put it outside a per-attempt timeout and outside a circuit breaker: the
//! breaker then sees every attempt, and an open circuit's rejection reaches the retry, which ends
//! the call at once (fail fast) instead of hammering the circuit or holding its caller.
//!
//! # Standalone
//!
//! [`Retry::run`] takes a closure that builds each attempt; it gets the [`Attempt`] (its number,
//! when retrying stops). The result is the first outcome that is not retried, or the last one when a
//! limit is reached: errors are never wrapped.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::backoff::{Backoff, Jitter};
//! use bulwark::retry::Retry;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let retry = Retry::builder()
//!     .max_attempts(4)
//!     .stop_retrying_after(Duration::from_secs(10))
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
//! not; [`RetryBuilder::retry_failures`] retries what a [`Classify`](crate::classify::Classify)
//! calls a failure, so a circuit breaker and a retry can share one classifier. [`RetryBuilder::retry_after`] reads a delay from the outcome (an HTTP `Retry-After`) that
//! replaces the backoff for that wait:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::retry::Retry;
//! use tower::BoxError;
//!
//! struct Response { status: u16, retry_after_secs: Option<u64> }
//!
//! # fn main() -> Result<(), bulwark::ConfigError> {
//! let retry = Retry::builder()
//!     .stop_retrying_after(Duration::from_secs(30))
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
//! A hint of `Some(Duration::ZERO)` means "try again now"; `None` means no hint (the backoff
//! decides); `Duration::MAX` means waiting will not help (the call gives up).
//!
//! # An open circuit: fail fast, or wait within a bound
//!
//! The [`DefaultHint`] stays behind any hint of yours and recognises a circuit breaker's rejection
//! (with the `circuit-breaker` feature): a [`CircuitOpen`](crate::circuit_breaker::CircuitOpen) in
//! a tower `BoxError`, the [`Error::CircuitOpen`](crate::Error::CircuitOpen) of the standalone
//! breaker or of a pipeline. By default the call then ends at once with
//! that rejection ([`GiveUpReason::CircuitOpen`]): the circuit is open because the dependency is
//! failing, and a caller held for the rest of the open duration (30 s by default) is worse off
//! than one told now, which is also what Resilience4j and Polly do.
//! [`RetryBuilder::wait_for_open_circuit`] opts in to waiting, with a bound: the call sleeps until
//! the circuit may admit calls again if that is within the bound (and within
//! [`stop_retrying_after`](RetryBuilder::stop_retrying_after)), then tries again; a circuit forced
//! open is never waited for. Put the retry outside the breaker:
//!
//! ```
//! # #[cfg(feature = "circuit-breaker")] {
//! use std::time::Duration;
//! use bulwark::ServiceBuilderExt;
//! use bulwark::circuit_breaker::CircuitBreaker;
//! use bulwark::retry::Retry;
//! use tower::{service_fn, BoxError, ServiceBuilder};
//!
//! # fn main() -> Result<(), BoxError> {
//! let breaker = CircuitBreaker::builder().build()?;
//! let retry = Retry::builder()
//!     .max_attempts(4)
//!     .wait_for_open_circuit(Duration::from_secs(2))
//!     .build()?;
//! let svc = ServiceBuilder::new()
//!     .bulwark_retry(&retry)
//!     .circuit_breaker(&breaker)
//!     .service(service_fn(|id: u64| async move { Ok::<_, BoxError>(id) }));
//! # let _ = svc;
//! # Ok(())
//! # }
//! # main().unwrap();
//! # }
//! ```
//!
//! # Limits
//!
//! - [`max_attempts`](RetryBuilder::max_attempts), the first included (3 by default).
//! - [`stop_retrying_after`](RetryBuilder::stop_retrying_after): a time limit for *starting*
//!   attempts, from the start of the call: no sleep is entered that would end at or past it
//!   (hinted or not), and no attempt starts once it has passed. It does not cut short the attempt
//!   in flight (the closure's own error type has no room for a "cut short" error), so a call may
//!   last the limit plus one attempt. Bound each attempt with a timeout inside the retry, and the
//!   whole call with one outside it: the [`Pipeline`](crate::pipeline::Pipeline)'s total timeout,
//!   or a timeout layer above the retry layer.
//! - A [`RetryBudget`] (on by default: retries up to a [`ratio`](RetryBudgetBuilder::ratio) of
//!   0.2 of the requests of the last 10 s, plus 10 per second). Every call deposits, every retry
//!   withdraws, exactly, for any ratio to six decimals. Share a budget between retries with
//!   [`RetryBuilder::budget`].
//!
//! When a limit stops a call, the caller gets the last outcome, and an [`Event::GaveUp`] says why
//! ([`GiveUpReason`]). The retry adds no error of its own: its standalone `run` returns the
//! closure's own error type, and an invalid setting is a [`ConfigError`](crate::ConfigError).
//!
//! # Requests that are not `Clone`
//!
//! The layer needs a request for each attempt. By default it clones one ([`CloneRequest`]) just
//! before an attempt that may be followed by another (attempts left), never before the last
//! attempt, and never at all when `max_attempts` is 1. A request whose clone allocates therefore
//! allocates once per call when retries are possible: a copy must exist before the original is
//! sent. For requests that cannot be cloned (streaming bodies), choose another [`Reissue`]:
//! [`RetryLayer::rebuild_with`] makes the copy from a request (from a buffered body, say), and
//! [`RetryLayer::recover_with`] takes the request back from an error that carries it (clients that
//! fail before sending give it back). A request for which no copy can be had is sent once.
//!
//! # Clone
//!
//! [`Retry`] is an `Arc`: its clones, its layers and every service made from them share one
//! configuration and one budget. A [`RetryService`] clone clones the inner service and shares
//! the service's references to its configuration: one per stripe of threads, made the first time
//! a call on a thread of that stripe needs it, so that the response futures of calls on
//! different cores do not write one reference count. The inner
//! service must be `Clone` (as for tower's `Retry`): each call that may retry keeps its own clone
//! of it, and drives that clone to readiness before each retry.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's `poll_ready`. A retry drives its call's own clone of the
//! inner service to readiness, so it waits for capacity like any caller, bounded by
//! `stop_retrying_after`;
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
//! inline in the future, and dropping it tests one pointer. What only a retry needs (the backoff
//! iterator with its random generator, the outcome kept while waiting) is made at the first retry,
//! in one box, and the timer at the first wait, so the happy-path future stays small: a call that
//! retries allocates each once. A call reads the clock once, at the start, only if a time limit or
//! a budget is set; the budget's deposit is then one atomic add (the bucket's bounds are cached per
//! thread, see [`RetryBudget`]). Through the layer, each call's future holds a reference to its
//! service's configuration (one reference count, not shared with services made by other `layer`
//! calls) and, when a retry may follow, clones the inner service and the request.
//! Each retry yields to the scheduler once, so attempts that fail at once with no delay between
//! them cannot hold the thread.
//!
//! # Events
//!
//! [`RetryBuilder::on_event`] registers listeners for [`Event`]s (retrying, gave up); with the
//! `tracing` feature every event is also a `tracing` event with target `bulwark::retry`.
//!
//! # Metrics
//!
//! [`RetryBudget::metrics`] (through [`Retry::budget`]) gives the requests and retries of the
//! budget's window and the retries available now. Counts of retries and give-ups by reason come
//! from the events; the retry keeps no counters of its own, so a call shares no counter with
//! calls on other threads.

mod attempts;
mod budget;
mod builder;
mod events;
mod future;
mod handle;
mod layer;
mod policy;
mod reissue;
mod service;
mod settings;

pub use attempts::Attempt;
#[cfg_attr(
    not(all(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead"
    )),
    allow(unused_imports, reason = "used by the pipeline")
)]
pub(crate) use attempts::{Attempts, Decision};
pub use budget::{BudgetMetrics, RetryBudget, RetryBudgetBuilder};
pub use builder::RetryBuilder;
pub use events::{Event, GiveUpReason, RetryReason};
pub use future::{ResponseFuture, Run};
pub(crate) use handle::Config;
pub use handle::Retry;
pub use layer::RetryLayer;
pub use policy::{DefaultHint, HintOr, OnError, RetryAfter, RetryFailures, ShouldRetry};
pub use reissue::{CloneRequest, RebuildWith, RecoverWith, Reissue};
pub use service::RetryService;
pub use settings::{BudgetSettings, Settings};
