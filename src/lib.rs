//! Resilience patterns for services built on tokio and tower.
//!
//! `bulwark` protects outbound calls and multi-step workflows. Every call-level pattern works two
//! ways over one core: as a tower [`Layer`](tower::Layer) in a [`ServiceBuilder`](tower::ServiceBuilder)
//! stack, and standalone around any async call.
//!
//! | pattern | module | feature |
//! |---|---|---|
//! | timeout | [`timeout`] | `timeout` |
//! | retry | [`retry`] (delays: [`backoff`]) | `retry` |
//! | circuit breaker | [`circuit_breaker`] (outcomes: [`classify`]) | `circuit-breaker` |
//! | bulkhead | [`bulkhead`] | `bulkhead` |
//! | the four around one call, one flat [`Error`] | [`pipeline`] | all four above |
//! | saga with compensation | [`saga`] | `saga` |
//! | health checks, liveness and readiness | [`health`] | `health` |
//! | fault injection (for tests and demos) | [`chaos`] | `chaos` |
//!
//! All of these are on by default.
//!
//! Integrations are off by default: `tracing` turns every pattern event into a structured
//! [`tracing`](https://docs.rs/tracing) event.
//! `sqlite` adds a durable saga store (`saga::SqliteStore`) for resuming sagas after a crash.
//! `serde` serializes health reports to JSON; `http` (which implies `serde`) adds the health
//! endpoint, a tower `Service` for `http::Request`s. `grpc` serves a health aggregator as
//! `grpc.health.v1` (on `tonic-health`).
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "timeout")]
//! # async fn demo() -> Result<(), tower::BoxError> {
//! use std::time::Duration;
//! use bulwark::ServiceBuilderExt;
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! let mut svc = ServiceBuilder::new()
//!     .bulwark_timeout(Duration::from_secs(1))
//!     .service(service_fn(|name: &'static str| async move {
//!         Ok::<_, tower::BoxError>(format!("hello, {name}"))
//!     }));
//!
//! let reply = svc.ready().await?.call("world").await?;
//! assert_eq!(reply, "hello, world");
//! # Ok(())
//! # }
//! # #[cfg(feature = "timeout")]
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//!
//! # Two doors, one state
//!
//! Every call-level pattern is a cheap-to-clone handle. `handle.run(..)` protects any async call
//! (the standalone door, errors in the one flat [`Error`]); `handle.layer()`, or the matching
//! [`ServiceBuilderExt`] method, protects a tower service (the tower door, errors as
//! [`BoxError`] holding a small rejection struct). Both doors drive the same state. Here one
//! breaker guards a tower client and a plain async call; a failure through each door opens the
//! one circuit for both:
//!
//! ```
//! # #[cfg(feature = "circuit-breaker")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, State};
//! use bulwark::{Error, ServiceBuilderExt};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! let breaker = CircuitBreaker::builder().consecutive_failures(2).build()?;
//!
//! // The tower door.
//! let mut client = ServiceBuilder::new()
//!     .circuit_breaker(&breaker)
//!     .service(service_fn(|_: ()| async { Err::<(), BoxError>("503".into()) }));
//! assert!(client.ready().await?.call(()).await.is_err());
//!
//! // The standalone door.
//! let direct = breaker.run(|| async { Err::<(), _>(std::io::Error::other("503")) }).await;
//! assert!(matches!(direct, Err(Error::Inner(_))));
//!
//! // Two failures, one through each door: one circuit, open for both.
//! assert_eq!(breaker.state(), State::Open);
//! let rejected = breaker.run(|| async { Ok::<_, std::io::Error>(()) }).await;
//! assert!(matches!(rejected, Err(Error::CircuitOpen(_))));
//! let rejected = client.ready().await?.call(()).await.unwrap_err();
//! assert!(rejected.is::<CircuitOpen>());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "circuit-breaker"))]
//! # fn main() {}
//! ```
//!
//! # A stack: the order, and why
//!
//! From the outside in, the patterns around one dependency go:
//!
//! 1. **timeout for the whole call**: the caller's budget, retries and backoff included;
//! 2. **retry**: outside the breaker, so every attempt asks the breaker again, and an open circuit
//!    ends the call at once instead of being hammered;
//! 3. **circuit breaker**: outside the bulkhead, so a rejected call never takes a slot or queues;
//! 4. **bulkhead**: inside the retry, so a slot is held for one attempt, never across a backoff;
//! 5. **timeout per attempt**: innermost, so a hung attempt is abandoned, counted as a failure by
//!    the breaker, and retried.
//!
//! [`pipeline::Pipeline`] builds exactly this order around plain async code (one flat [`Error`]),
//! and its docs say what goes wrong when the order changes. As a tower stack:
//!
//! ```
//! # #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker", feature = "bulkhead"))]
//! # fn stack() -> Result<(), bulwark::ConfigError> {
//! use std::time::Duration;
//! use bulwark::bulkhead::Bulkhead;
//! use bulwark::circuit_breaker::CircuitBreaker;
//! use bulwark::retry::Retry;
//! use bulwark::ServiceBuilderExt;
//! use tower::{service_fn, BoxError, ServiceBuilder};
//!
//! let retry = Retry::builder().max_attempts(3).build()?;
//! let breaker = CircuitBreaker::builder().build()?;
//! let bulkhead = Bulkhead::builder().max_concurrent(16).build()?;
//!
//! let client = ServiceBuilder::new()
//!     .bulwark_timeout(Duration::from_secs(5)) // 1. the whole call
//!     .bulwark_retry(&retry) //                   2.
//!     .circuit_breaker(&breaker) //               3.
//!     .bulkhead(&bulkhead) //                     4.
//!     .bulwark_timeout(Duration::from_secs(1)) // 5. each attempt
//!     .service(service_fn(|order: u32| async move { Ok::<_, BoxError>(order) }));
//! # let _ = client;
//! # Ok(())
//! # }
//! # #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker", feature = "bulkhead"))]
//! # stack().unwrap();
//! ```
//!
//! See `ARCHITECTURE.md` in the repository for the map of modules and the shared decisions.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
pub mod classify;
mod event;

pub mod backoff;
#[cfg(feature = "chaos")]
pub mod chaos;
#[cfg(feature = "timeout")]
pub mod timeout;

#[cfg(feature = "bulkhead")]
pub mod bulkhead;
#[cfg(feature = "circuit-breaker")]
pub mod circuit_breaker;
#[cfg(feature = "health")]
pub mod health;

#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "saga")]
pub mod saga;

#[cfg(all(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead"
))]
pub mod pipeline;

mod config_error;
mod error;
#[cfg(feature = "metrics")]
mod instrument;
mod name;
mod sleep;

pub use builder::ServiceBuilderExt;
pub use config_error::ConfigError;
pub use error::Error;
pub use name::Name;

/// The boxed error that bulwark's tower layers return, as in tower.
pub use tower::BoxError;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
