//! Hedged requests: when an attempt has not answered after a delay, sends another, and takes
//! the first success.
//!
//! Use a hedge in front of a replicated, idempotent read (a search shard, a key-value store, a
//! DNS resolver) whose latency has a long tail: most calls answer quickly, a few are stuck
//! behind a slow replica, a garbage collection or a lost packet. Waiting for the slow one costs
//! the whole tail; a second attempt sent after a delay (say the p95 latency) usually answers at
//! the fast path's speed, and costs a few percent of extra load. Do not hedge calls that must
//! not run twice (a payment): every attempt may reach the server.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::hedge::Hedge;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hedge = Hedge::builder()
//!     .delay(Duration::from_millis(20))
//!     .max_hedged_attempts(2)
//!     .build()?;
//!
//! // Replica 0 takes a second, replica 1 takes 5 ms.
//! let mut replica = 0;
//! let started = tokio::time::Instant::now();
//! let answer = hedge
//!     .run(|| {
//!         let (which, latency) = (replica, [1_000, 5, 5][replica]);
//!         replica += 1;
//!         async move {
//!             tokio::time::sleep(Duration::from_millis(latency)).await;
//!             Ok::<_, std::io::Error>(which)
//!         }
//!     })
//!     .await?;
//! assert_eq!(answer, 1); // The hedge sent at 20 ms answered at 25 ms.
//! assert_eq!(started.elapsed(), Duration::from_millis(25));
//! # Ok(())
//! # }
//! ```
//!
//! # The rules
//!
//! - **When a hedge is sent.** The first attempt is sent at the call's first poll. Each time the
//!   delay passes after the latest attempt was sent with no attempt having succeeded, the next
//!   attempt is sent, at most [`max_hedged_attempts`](Builder::max_hedged_attempts) of them
//!   (one unless set), and only if the budget allows it. Never before the delay.
//! - **The delay** is fixed ([`Builder::delay`], 100 ms unless set), or a percentile of the
//!   latencies of recent attempts ([`Builder::latency_percentile`]): a bounded histogram (272
//!   counters in log-linear buckets, two windows, as tower's `hedge` keeps two), the percentile
//!   computed once per window from the window that just ended. No call is hedged while that
//!   window holds fewer than [`min_samples`](Builder::min_samples) latencies.
//! - **The first success wins**: the call returns it, and every other attempt in flight is
//!   dropped (cancelled) at once.
//! - **A failure** (an `Err`) of one attempt while others are in flight is set aside, and the
//!   call waits for the others (Polly's rule); hedges are still sent on the timer. The call ends
//!   with a failure only when no attempt is in flight any more: it returns the last failure
//!   (the latest to arrive). A failure does not send a hedge early: hedging is for slowness,
//!   retrying is for errors (put a [`Retry`](crate::retry::Retry) around the hedge).
//! - **The budget** caps the extra load: a [`RetryBudget`](crate::retry::RetryBudget) where
//!   every call deposits and every hedge withdraws, so over its window (10 s by default, in ten
//!   buckets) hedges are at most `ratio × calls + min_per_second × window`. The default is
//!   10 % of the calls plus one hedge per second; [`Builder::budget`] sets another,
//!   [`Builder::no_budget`] removes it. A hedge the budget refuses is not sent, and that call
//!   sends none after it ([`Event::BudgetExhausted`]).
//! - **A panic** in the closure or in an attempt's future is caught and counts as a failed
//!   attempt: the other attempts carry on, and one of them may still answer the call. If no
//!   attempt succeeds and none returned an error, the panic is resumed on the caller's task, as
//!   it would have been without the hedge. A panic while making the *first* attempt (nothing
//!   else in flight) is resumed at once.
//!
//! Hedging adds no error of its own: the output is the attempts' own `Result`, standalone and
//! through tower (where the error stays the inner service's, not boxed).
//!
//! # Where it goes in a stack
//!
//! From the outside in: total timeout, retry, **hedge**, circuit breaker, bulkhead, timeout per
//! attempt. Inside the total timeout, which bounds the caller's wait whatever the hedges do.
//! Inside the retry, so a failed hedged call is retried as a whole and no hedge is sent while
//! the retry sleeps between attempts (there is nothing to hedge then). Outside the breaker and
//! the bulkhead, so every copy asks the breaker (an open circuit turns a hedge away at once) and
//! holds its own bulkhead slot, and a dropped loser gives its slot back and records nothing with
//! the breaker (by default: a breaker whose
//! [`dropped_calls`](crate::circuit_breaker::Builder::dropped_calls) counts drops as failures
//! would count every loser, so keep the default under a hedge).
//!
//! ```
//! use std::time::Duration;
//! use bulwark::bulkhead::Bulkhead;
//! use bulwark::circuit_breaker::CircuitBreaker;
//! use bulwark::hedge::Hedge;
//! use bulwark::retry::Retry;
//! use bulwark::ServiceBuilderExt;
//! use tower::{service_fn, BoxError, ServiceBuilder};
//!
//! # fn main() -> Result<(), bulwark::ConfigError> {
//! let client = ServiceBuilder::new()
//!     .bulwark_timeout(Duration::from_secs(2))
//!     .bulwark_retry(&Retry::builder().max_attempts(2).build()?)
//!     .hedge(&Hedge::builder().latency_percentile(0.95, Duration::from_secs(10)).build()?)
//!     .circuit_breaker(&CircuitBreaker::builder().build()?)
//!     .bulkhead(&Bulkhead::builder().max_concurrent(32).build()?)
//!     .bulwark_timeout(Duration::from_millis(500))
//!     .service(service_fn(|key: u64| async move { Ok::<_, BoxError>(key) }));
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! The fused [`Pipeline`](crate::pipeline::Pipeline) has no slot for a hedge between its retry
//! and its breaker. Put the hedge inside its closure: then the pipeline's per-attempt timeout
//! bounds the hedged attempt, its retry retries it, and its breaker and bulkhead see one
//! attempt (its best copy) holding one slot; the hedge's budget is what caps the copies.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::hedge::Hedge;
//! use bulwark::pipeline::Pipeline;
//! use bulwark::retry::Retry;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pipeline = Pipeline::builder()
//!     .total_timeout(Duration::from_secs(2))
//!     .retry(Retry::builder().max_attempts(2).build()?)
//!     .attempt_timeout(Duration::from_millis(500))
//!     .build()?;
//! let hedge = Hedge::builder().delay(Duration::from_millis(50)).build()?;
//!
//! let copies = &std::sync::atomic::AtomicUsize::new(0);
//! let reply = pipeline
//!     .run(|| {
//!         // `move`: the hedged call may outlive one run of the pipeline's closure.
//!         hedge.run(move || {
//!             let slow = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
//!             async move {
//!                 let ms = if slow { 400 } else { 10 };
//!                 tokio::time::sleep(Duration::from_millis(ms)).await;
//!                 Ok::<_, std::io::Error>(ms)
//!             }
//!         })
//!     })
//!     .await?;
//! assert_eq!(reply, 10);
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`Hedge::layer`] gives a [`HedgeLayer`] (or
//! [`ServiceBuilderExt::hedge`](crate::ServiceBuilderExt::hedge): `ServiceBuilder::new().hedge(&hedge)`). Requests must be `Clone` (each attempt sends its
//! own clone) and so must the inner service: the first attempt is sent on the service made
//! ready for the call, each hedge on its own clone, made ready before it is called. For a
//! request whose body cannot be cloned, buffer it first (`Bytes`).
//!
//! # Clone
//!
//! [`Hedge`] is a handle: clones, the layers it makes, their services and those services'
//! clones share one delay (and histogram), one budget and one set of counters.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's. Extra attempts wait for readiness of their own clone
//! inside the response future: a hedge never fails because the inner service was not ready, it
//! waits (bound it with the per-attempt timeout or a bulkhead inside).
//!
//! # Cancellation
//!
//! Dropping the call drops every attempt in flight. When one attempt succeeds, the others are
//! dropped at once, before the answer is returned: a loser that holds a bulkhead slot gives it
//! back, and its work on the server is abandoned (or not, depending on the server: dropping a
//! request does not reach a server that already has it).
//!
//! # Metrics and events
//!
//! [`Hedge::metrics`] counts calls, hedges sent, hedges that won and hedges the budget refused,
//! and gives the current delay. [`Builder::on_event`] registers listeners for [`Event`]s;
//! with the `tracing` feature they are `tracing` events with target `bulwark::hedge`, and with
//! `metrics` they are counted (`bulwark.hedge.*`, see the crate's table).
//!
//! # Cost
//!
//! A call whose first attempt answers before the delay costs one read of tokio's clock, a
//! deposit in the budget (a few atomic operations), one counter increment and one reference
//! count: no heap allocation, no lock (except that the first call after a budget bucket or a
//! percentile window ends takes a short mutex to rotate it). The tower door also clones the request and the service
//! for the hedges it may send. A call still pending at its first poll arms one tokio timer inside
//! its own future (no allocation). A hedged call allocates its list of extra attempts once, and
//! each hedge sent boxes its attempt. With a percentile delay,
//! an attempt that answers reads the clock again and adds to one atomic counter.

mod builder;
mod events;
mod future;
mod handle;
mod histogram;
mod layer;
mod service;
mod state;

pub use builder::Builder;
pub use events::{Event, Metrics};
pub use future::{ResponseFuture, Run};
pub use handle::Hedge;
pub use layer::HedgeLayer;
pub use service::HedgeService;
