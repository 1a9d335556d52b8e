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
//! endpoint, a tower `Service` for `http::Request`s.
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
mod sleep;

pub use builder::ServiceBuilderExt;
pub use config_error::ConfigError;
pub use error::Error;

/// The boxed error that bulwark's tower layers return, as in tower.
pub use tower::BoxError;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
