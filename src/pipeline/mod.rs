//! Combines timeout, retry, circuit breaker and bulkhead around one async call, in a fixed,
//! documented order, with one flat error type.
//!
//! Use it when you call a dependency from plain async code (not through a tower stack) and want
//! the whole set of protections without nesting five `run` calls and five error types. Every
//! part is optional; the patterns are the same handles you would use alone, so a breaker shared
//! with a tower layer elsewhere is the same circuit here.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::bulkhead::Bulkhead;
//! use bulwark::circuit_breaker::CircuitBreaker;
//! use bulwark::pipeline::Pipeline;
//! use bulwark::retry::Retry;
//! use bulwark::Error;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let pipeline = Pipeline::builder()
//!     .total_timeout(Duration::from_secs(10))
//!     .retry(Retry::builder().max_attempts(3).build()?)
//!     .circuit_breaker(CircuitBreaker::builder().build()?)
//!     .bulkhead(Bulkhead::builder().max_concurrent(8).build()?)
//!     .attempt_timeout(Duration::from_secs(2))
//!     .build()?;
//!
//! let mut calls = 0;
//! let reply = pipeline
//!     .run(|| {
//!         calls += 1;
//!         let flaky = calls < 3;
//!         async move {
//!             if flaky {
//!                 Err(std::io::Error::other("connection reset"))
//!             } else {
//!                 Ok("stock: 12")
//!             }
//!         }
//!     })
//!     .await;
//! assert_eq!(reply.ok(), Some("stock: 12"));
//!
//! match pipeline.run(|| async { Err::<(), _>(std::io::Error::other("down")) }).await {
//!     Err(Error::Inner(e)) => assert_eq!(e.to_string(), "down"),
//!     Err(other) => println!("stopped by a pattern: {other}"),
//!     Ok(()) => unreachable!(),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # For HTTP
//!
//! With the `http` feature, [`Pipeline::http`] is a ready-made, tunable pipeline for an outbound
//! HTTP dependency (the defaults of .NET's standard resilience handler), with a classifier and a
//! retry policy that read status codes and `Retry-After`.
//!
//! # The order, and why
//!
//! From the outside in:
//!
//! 1. **Total timeout**: bounds what the caller waits for, retries and backoff sleeps included,
//!    counted from the call (`run`, or the service's `call`, as tower's `Timeout` counts; a first
//!    attempt admitted at once shares that reading). Outermost, because it is the caller's
//!    budget; it fails with [`Error::Timeout`](crate::Error::Timeout).
//! 2. **Retry**: tries the attempt again. It sits outside the breaker so that every attempt asks the
//!    breaker again. An open circuit comes back as [`Error::CircuitOpen`](crate::Error::CircuitOpen):
//!    by default the retry ends the call with it at once (fail fast); with
//!    [`RetryBuilder::wait_for_open_circuit`](crate::retry::RetryBuilder::wait_for_open_circuit) it
//!    waits until the circuit may admit calls again when that is within the bound and its
//!    time limit, and never for a circuit forced open. It never hammers an open circuit.
//! 3. **Circuit breaker**: fails fast while the dependency is down. Outside the bulkhead, so a
//!    rejected call never takes a slot or waits in the queue. It records each attempt: a timed-out
//!    attempt is a failure, a call the bulkhead turned away is *ignored* (the bulkhead being full
//!    says nothing about the dependency), and the call's own result is classified by the
//!    breaker's classifier. Its slow-call clock starts when the breaker admits the attempt (each
//!    attempt's own: a retry's time does not include the attempts and sleeps before it), so it
//!    includes the bulkhead's queue wait.
//! 4. **Bulkhead**: bounds the attempts in flight to the dependency, and the callers queued for
//!    them. Inside the retry, so a slot is held for one attempt, never across backoff sleeps.
//! 5. **Attempt timeout**: bounds one attempt, from the moment the bulkhead admits it: not its
//!    wait for a bulkhead slot (`max_wait` bounds that). Innermost, so a hung attempt is
//!    abandoned, counted as a failure, and retried. When it ends at the same instant as the total
//!    deadline, the attempt timeout wins (a failure, retried if an attempt is left); so does the
//!    queue's `max_wait`.
//!
//! The closure is called once per attempt, and only after the breaker and the bulkhead have both
//! admitted that attempt: a call the circuit rejects or the bulkhead turns away never calls it,
//! and a call waiting in the bulkhead's queue calls it when its slot is taken.
//!
//! # What changes when the order changes
//!
//! - Retry *inside* the breaker: the breaker sees one outcome per call, however many attempts it
//!   took, so it opens late; and retries keep going at a dependency that is down.
//! - Timeout *inside* the retry (only an attempt timeout): nothing bounds the whole call; a caller
//!   can wait `attempts × (attempt timeout + backoff)`.
//! - Bulkhead *outside* the retry: one slot is held through every attempt and backoff sleep, so a
//!   struggling dependency starves the bulkhead by its own retries.
//! - Bulkhead *outside* the breaker: calls queue for a slot only to be rejected by an open circuit.
//!
//! Build a different order by nesting the patterns' own `run`s; this type is the recommended one.
//!
//! # Fallback and hedging
//!
//! [`PipelineBuilder::fallback`] adds a [`Fallback`](crate::fallback::Fallback), applied last,
//! outside everything: it sees the outcome the caller would have seen (after the retries and
//! the total timeout) and replaces the chosen ones (an open circuit, a timeout, a full bulkhead,
//! a classified failure) with its value. A pipeline without one pays nothing for it.
//!
//! ```
//! # #[cfg(feature = "fallback")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bulwark::fallback::{Fallback, Reason};
//! use bulwark::pipeline::Pipeline;
//!
//! let prices = Pipeline::builder()
//!     .total_timeout(Duration::from_millis(500))
//!     .fallback(Fallback::builder(|_: Reason| 10).on(Reason::Timeout).build()?)
//!     .build()?;
//! let price = prices
//!     .run(|| async {
//!         tokio::time::sleep(Duration::from_secs(3)).await; // the pricing service hangs
//!         Ok::<u32, std::io::Error>(12)
//!     })
//!     .await?;
//! assert_eq!(price, 10); // the cached price
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "fallback"))]
//! # fn main() {}
//! ```
//!
//! A [`Hedge`](crate::hedge::Hedge) goes inside the closure: see
//! [where a hedge goes](crate::hedge#where-it-goes-in-a-stack).
//!
//! # Errors
//!
//! [`Error<E>`](crate::Error) is flat: `Inner(E)` (the call's own error after any retries),
//! `Timeout` (total or attempt), `CircuitOpen`, `BulkheadFull`. The retry's predicate and hint see
//! that same `Result<T, Error<E>>`, so `retry_if` can decide per kind (by default every error is
//! retried, and an open circuit ends the call as above).
//!
//! # Cancellation
//!
//! Dropping the future of [`Pipeline::run`] drops the attempt in flight: its bulkhead slot is
//! returned, a half-open probe slot is released, and no timer is left behind. After every
//! attempt (completed, timed out, or abandoned with its call) the attempt's future is dropped
//! first, then its breaker ticket and its bulkhead slot are given back: a future that holds a
//! connection or a request until it is dropped never overlaps the attempt the freed slot admits
//! next, and a half-open probe counts until its future is gone. A closure, an attempt or a drop
//! that panics is no different: the panic reaches the caller, and the slot and the ticket go
//! back all the same (a half-open circuit is never left waiting for a probe that panicked).
//!
//! # As a tower layer
//!
//! [`Pipeline::layer`] is the same pipeline as one tower layer: the recommended way to protect a
//! dependency in a `ServiceBuilder` stack. Its [`PipelineService`] runs every call through the
//! same state machine as [`Pipeline::run`] ([`ResponseFuture`] and [`Run`] share it), in the
//! same order, sharing the pipeline's breaker, bulkhead and retry budget with every other user
//! of them. Errors are `BoxError`s holding the inner service's error, or an
//! [`Elapsed`](crate::timeout::Elapsed), a [`CircuitOpen`](crate::circuit_breaker::CircuitOpen)
//! or a [`BulkheadFull`](crate::bulkhead::BulkheadFull) to downcast. `call` takes the ready
//! inner service into the response future (a clone takes its place, as with tower's `Retry`),
//! calls it once the breaker and the bulkhead admit the attempt, and drives it to readiness
//! again before each retry; requests are cloned for retries, or had again through
//! [`PipelineLayer::reissue`]. The four separate layers still stack in any order you need; the
//! fused layer is the cheaper way to have all four (see the figures in BENCHMARKS.md).
//!
//! # Keeping a protected client
//!
//! The services name their defaults (those of [`Pipeline::builder`] without a custom classifier,
//! backoff, predicate or hint, and requests cloned for retries), so a client protected by a
//! pipeline fits in a struct field, or in axum's state, as `PipelineService<Client>`:
//!
//! ```
//! use bulwark::pipeline::{Pipeline, PipelineService};
//! use bulwark::retry::Retry;
//! use std::time::Duration;
//! use tower::{Layer, Service, ServiceExt};
//!
//! /// The downstream client (here a stand-in): any `tower::Service` that is `Clone`.
//! #[derive(Clone)]
//! struct Inventory;
//!
//! impl Service<String> for Inventory {
//!     type Response = u32;
//!     type Error = std::io::Error;
//!     type Future = std::future::Ready<Result<u32, std::io::Error>>;
//!     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
//!         std::task::Poll::Ready(Ok(()))
//!     }
//!     fn call(&mut self, _sku: String) -> Self::Future {
//!         std::future::ready(Ok(12))
//!     }
//! }
//!
//! /// Axum's state (`Router::with_state`) holds it the same way: it is `Clone`.
//! #[derive(Clone)]
//! struct AppState {
//!     inventory: PipelineService<Inventory>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pipeline = Pipeline::builder()
//!     .total_timeout(Duration::from_secs(2))
//!     .retry(Retry::builder().max_attempts(3).build()?)
//!     .build()?;
//! let state = AppState { inventory: pipeline.layer().layer(Inventory) };
//! let stock = state.inventory.clone().oneshot("sku-42".to_owned()).await?;
//! assert_eq!(stock, 12);
//! # Ok(())
//! # }
//! ```
//!
//! The separate layers' services have defaults too: `TimeoutService<RetryService<
//! CircuitBreakerService<BulkheadService<Client>>>>` names the four stacked with their defaults.
//!
//! # Cost
//!
//! A call is one state machine: no allocation on the success path, including a call whose
//! attempt is pending or waits in the bulkhead's queue (counting-allocator tests check both
//! doors); one timer, inline, made only when an attempt is pending, a retry waits or the queue
//! does, and set to the earliest bound that applies (the total deadline, the attempt's end, the
//! end of the backoff sleep, the end of the queue's `max_wait`); the clock read once when the
//! call starts, shared by the total deadline, the retry budget, and the first attempt's
//! slow-call start, entry in the queue (its `max_wait` counts from there) and end (if admitted
//! at once); a retry reads it once for its attempt, and an attempt admitted after a wait in the
//! queue reads it when admitted. The standalone [`Run`] borrows the pipeline; the tower door's future holds one
//! reference count to it, kept in the lane of its thread: each service made by `Layer::layer`
//! has a reference per stripe of threads (twice as many stripes as CPUs), made the first time a
//! call on a thread of that stripe needs it, so calls on different cores do not write one count.
//! A clone of a [`Pipeline`] is one reference count. A free bulkhead slot is taken with one
//! compare-and-swap and held without a reference of its own (the call already holds the
//! pipeline); only a call that finds none joins the queue. The future is about 290 bytes, of
//! which the timer is a third; a test keeps each response future within a size budget.

mod builder;
mod fallback;
mod future;
mod handle;
mod hint;
#[cfg(feature = "http")]
mod http;
mod layer;
mod service;

pub use builder::PipelineBuilder;
pub use fallback::{ApplyFallback, NoFallback};
pub use future::{ResponseFuture, Run};
pub use handle::Pipeline;
#[cfg(feature = "http")]
pub use http::{
    HttpClassifier, HttpPipelineBuilder, HttpRetryPolicy, RetryAfterHeader, is_transient,
    retry_after,
};
pub use layer::PipelineLayer;
pub use service::PipelineService;
