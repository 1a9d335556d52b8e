//! Fallbacks: a value in place of chosen failures (an open circuit, a timeout, a full bulkhead,
//! a rate limit, or an outcome a classifier calls a failure).
//!
//! Use a fallback where a degraded answer is better than an error: a cached price when the
//! pricing service's circuit is open, an empty recommendations list when the recommender is
//! too slow, a "try again later" page when the rate limit is reached. It goes outermost, around
//! everything else, so it sees the final outcome: after the retries, and after the total
//! timeout. Each time it is used it emits [`Event::Used`] and counts a metric, so a fallback
//! that quietly answers every call does not go unnoticed.
//!
//! # Standalone
//!
//! [`Fallback::run`] takes a closure whose future returns `Result<T, bulwark::Error<E>>`, the
//! flat error of every standalone run (a [`Pipeline`](crate::pipeline::Pipeline), a breaker, a
//! bulkhead...), and returns the same type, with the chosen outcomes replaced by `Ok(value)`:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::circuit_breaker::CircuitBreaker;
//! use bulwark::fallback::{Fallback, Reason};
//! use bulwark::pipeline::Pipeline;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pipeline = Pipeline::builder()
//!     .circuit_breaker(CircuitBreaker::builder().consecutive_failures(1).build()?)
//!     .build()?;
//! let fallback = Fallback::builder(|reason: Reason| format!("cached ({})", reason.as_str()))
//!     .on(Reason::CircuitOpen)
//!     .build()?;
//!
//! // A failure opens the circuit; the call's own error is not replaced.
//! let first = fallback
//!     .run(|| pipeline.run(|| async { Err::<String, _>(std::io::Error::other("down")) }))
//!     .await;
//! assert!(first.is_err());
//! // The next call is rejected by the open circuit: the fallback answers.
//! let second = fallback
//!     .run(|| pipeline.run(|| async { Ok::<_, std::io::Error>("live".to_owned()) }))
//!     .await?;
//! assert_eq!(second, "cached (circuit_open)");
//! # Ok(())
//! # }
//! ```
//!
//! [`Fallback::apply`] does the same to an outcome already in hand.
//!
//! # Tower
//!
//! [`Fallback::layer`] gives a [`FallbackLayer`]: outermost in the stack, it recognises the
//! rejections the layers below return inside their [`BoxError`](crate::BoxError)
//! (`circuit_breaker::CircuitOpen`, `timeout::Elapsed`, `bulkhead::BulkheadFull`,
//! `rate_limit::RateLimited`, found with `is::<T>()` on the error itself) and replaces the chosen
//! ones with the closure's response:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::fallback::{Fallback, Reason};
//! use bulwark::ServiceBuilderExt;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let fallback = Fallback::builder(|_: Reason| Vec::<String>::new())
//!     .on(Reason::Timeout)
//!     .build()?;
//! let mut recommendations = ServiceBuilder::new()
//!     .fallback(&fallback) // the same as .layer(fallback.layer())
//!     .bulwark_timeout(Duration::from_millis(100))
//!     .service(service_fn(|_user: u64| async {
//!         tokio::time::sleep(Duration::from_secs(5)).await; // too slow
//!         Ok::<_, BoxError>(vec!["a book".to_owned()])
//!     }));
//!
//! let list = recommendations.ready().await?.call(7).await?;
//! assert!(list.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # What is replaced
//!
//! - **The rejections** chosen with [`Builder::on`]; by default all four (open circuit, timeout,
//!   full bulkhead, rate limit). A rejection not chosen passes through unchanged.
//! - **The call's own outcomes** that a classifier calls a
//!   [`Failure`](crate::classify::Verdict::Failure), with [`Builder::on_failure`]: an error, or
//!   an `Ok` response that means failure (a 503). By default none is.
//! - The closure gets the [`Reason`]; it is called once per replaced outcome, on the task that
//!   polled the call.
//!
//! # When the fallback panics
//!
//! A panic in the fallback's closure (or its classifier) is caught: the call returns its
//! original outcome, the error it would have returned without the fallback, and
//! [`Event::Panicked`] and the `bulwark.fallback.panics` counter report it. That is the safer
//! choice: the caller already handles that error, while a panic would unwind through code that
//! expected a fallback to make things better, not worse.
//!
//! # Clone
//!
//! [`Fallback`] is a handle: clones, the layers it makes, their services and those services'
//! clones share one closure and one set of counters.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's; the fallback takes nothing and decides nothing there.
//! An error from `poll_ready` is never replaced: it says the service is unusable.
//!
//! # Cancellation
//!
//! Dropping the call drops the inner call; the fallback is only ever called with an outcome in
//! hand.
//!
//! # Metrics and events
//!
//! [`Fallback::metrics`] counts the outcomes replaced, by reason, and the panics.
//! [`Builder::on_event`] registers listeners for [`Event`]s; with the `tracing` feature they are
//! `tracing` events with target `bulwark::fallback`, and with `metrics` they are counted
//! (`bulwark.fallback.used` with a `reason` label, `bulwark.fallback.panics`).
//!
//! # Cost
//!
//! An outcome that is not replaced costs a match on it (a downcast check per rejection kind
//! through tower, for errors only) and the classifier's call if there is one: no allocation, no
//! shared write. One that is replaced adds the closure's call and one counter increment.

mod builder;
mod events;
mod future;
mod handle;
mod layer;
mod service;
mod state;

pub use builder::Builder;
pub use events::{Event, Metrics, Reason};
pub use future::{ResponseFuture, Run};
pub use handle::{Fallback, RejectionsOnly};
pub use layer::FallbackLayer;
pub use service::FallbackService;
