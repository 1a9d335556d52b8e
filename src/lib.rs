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
//! | rate limiter (GCRA) | [`rate_limit`] | `rate-limit` |
//! | hedged requests | [`hedge`] | `hedge` |
//! | fallback values for chosen failures | [`fallback`] | `fallback` |
//! | the four around one call, one flat [`Error`] | [`pipeline`] | all four above |
//! | any of the above per key (host, route, tenant), in bounded memory | [`keyed`] | `keyed` |
//! | saga with compensation | [`saga`] | `saga` |
//! | health checks, liveness and readiness | [`health`] | `health` |
//! | fault injection (for tests and demos) | [`chaos`] | `chaos` |
//!
//! All of these are on by default.
//!
//! Integrations are off by default: `tracing` turns every pattern event into a structured
//! [`tracing`](https://docs.rs/tracing) event (see [Names, events and metrics](#names-events-and-metrics)).
//! `metrics` records every pattern through the [`metrics`](https://docs.rs/metrics) facade, for
//! Prometheus, OpenTelemetry or any other exporter (see the [table](#metrics)).
//! `sqlite` adds a durable saga store (`saga::SqliteStore`) for resuming sagas after a crash.
//! `serde` serializes health reports to JSON; `http` (which implies `serde`) adds the health
//! endpoint, a tower `Service` for `http::Request`s. `grpc` serves a health aggregator as
//! `grpc.health.v1` (on `tonic-health`). `redis` keeps a rate limiter's state in Redis, so that
//! every replica of a service shares one limit.
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
//! # Names, events and metrics
//!
//! Every instance has a [`Name`], set on its builder (`CircuitBreaker::builder().name("payments")`,
//! `Timeout::new(d).name("payments")`, `Pipeline::builder().name(..)`,
//! `HealthAggregator::builder().name(..)`; a saga is named by its definition). An instance not
//! named is named after its kind: `"timeout"`, `"retry"`, `"circuit_breaker"`, `"bulkhead"`,
//! `"pipeline"`, `"chaos"`, `"health"`. The name is in:
//!
//! - every event: each variant of each pattern's `Event` has a `name: Name` field, and
//!   `event.name()` returns it;
//! - every `tracing` event, as the `name` field (feature `tracing`); reasons and figures are typed
//!   fields too: `reason = "failure_rate"`, `failure_rate = 0.6`, durations in seconds as `f64`
//!   (`delay_s`, `after_s`, `retry_after_s`), never a Debug string;
//! - every metric, as the `name` label (feature `metrics`);
//! - the details of the ready-made breaker and bulkhead health checks;
//! - the message of a rejection (`circuit breaker "payments" is open, retry after 2.5s`,
//!   `bulkhead "payments" is full: queue full`, `timed out "payments" after 1s`); an instance that
//!   kept its default name is not named there (`circuit breaker is open, ...`).
//!
//! A name is one pointer to an interned `&'static str` (`Copy`; naming interns it once per
//! distinct text), so carrying it costs a call nothing, and with no listener and neither
//! `tracing` nor `metrics` on, no event is even built.
//!
//! ## Metrics
//!
//! With the `metrics` feature every pattern records through the [`metrics`](https://docs.rs/metrics)
//! facade. Names follow OpenTelemetry's conventions (dotted, the unit in the name where there is
//! one: durations are histograms in seconds, `..._duration_seconds`); a Prometheus exporter turns
//! the dots into underscores (`bulwark_circuit_breaker_state`). Every series has the instance's
//! `name` label. An instance registers its handles when it is built, so **install the recorder
//! before building the patterns**; recording is then an atomic operation on a registered handle,
//! with nothing formatted or allocated per call. Labels with a fixed set of values are registered
//! up front (a counter at 0 shows the value exists); the breaker's transitions and the timeout's
//! counter are registered when they first happen.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `bulwark.circuit_breaker.calls` | counter | `name`, `outcome`: `success`, `failure`, `ignored` | calls let through and recorded |
//! | `bulwark.circuit_breaker.slow_calls` | counter | `name` | recorded calls slower than the slow-call threshold |
//! | `bulwark.circuit_breaker.rejections` | counter | `name`, `reason`: `open`, `half_open`, `forced_open` | calls rejected without running, by the state that rejected them |
//! | `bulwark.circuit_breaker.state` | gauge | `name`, `state`: `closed`, `open`, `half_open`, `forced_open`, `disabled`, `metrics_only` | 1 for the current state, 0 for the others |
//! | `bulwark.circuit_breaker.transitions` | counter | `name`, `from`, `to` (states as above) | state transitions |
//! | `bulwark.bulkhead.admissions` | counter | `name` | calls that took a slot |
//! | `bulwark.bulkhead.rejections` | counter | `name`, `reason`: `queue_full`, `timed_out` | calls turned away |
//! | `bulwark.bulkhead.in_flight` | gauge | `name` | calls holding a slot now |
//! | `bulwark.bulkhead.queued` | gauge | `name` | calls waiting for a slot now |
//! | `bulwark.bulkhead.max_concurrent`, `bulwark.bulkhead.max_queued` | gauge | `name` | the current limits (with an adaptive limit, `max_concurrent` is the limit the algorithm set) |
//! | `bulwark.bulkhead.limit_changes` | counter | `name`, `direction`: `up`, `down` | changes of an adaptive limit |
//! | `bulwark.rate_limit.rejections` | counter | `name` | calls over the limit, turned away |
//! | `bulwark.rate_limit.waits` | counter | `name` | calls that waited for their turn, then were admitted |
//! | `bulwark.rate_limit.store_unavailable` | counter | `name` | decisions Redis did not answer, left to the limiter's `OnUnavailable` policy |
//! | `bulwark.fallback.used` | counter | `name`, `reason`: `circuit_open`, `timeout`, `bulkhead_full`, `rate_limited`, `classified` | outcomes replaced by the fallback |
//! | `bulwark.fallback.panics` | counter | `name` | fallbacks (or their classifiers) that panicked; the original outcome was returned |
//! | `bulwark.hedge.hedges` | counter | `name` | extra attempts sent because the previous one had not answered in time |
//! | `bulwark.hedge.wins` | counter | `name` | calls answered by an extra attempt rather than the first |
//! | `bulwark.hedge.budget_exhausted` | counter | `name` | hedges that were due but refused by the budget |
//! | `bulwark.keyed.evictions` | counter | `name`, `reason`: `capacity`, `idle` | keys evicted (a new key needed the room, or the key was idle past the timeout) |
//! | `bulwark.keyed.refusals` | counter | `name` | calls with a new key turned away: no key of its shard could be evicted yet |
//! | `bulwark.keyed.keys` | gauge | `name` | keys held now (set whenever a key is created or evicted) |
//! | `bulwark.retry.retries` | counter | `name`, `reason`: `error`, `response` | attempts after the first, by what made the previous outcome retryable |
//! | `bulwark.retry.give_ups` | counter | `name`, `reason`: `attempts`, `time_up`, `budget`, `not_retryable`, `no_request`, `circuit_open` | calls that stopped retrying with a failed outcome |
//! | `bulwark.timeout.timeouts` | counter | `name`, `phase`: `call`, `readiness` | calls (or waits for readiness) that ran out of time |
//! | `bulwark.saga.starts` | counter | `name` (the definition), `how`: `started`, `resumed` | runs started, or resumed from their log |
//! | `bulwark.saga.steps` | counter | `name`, `outcome`: `completed`, `failed` | attempts of steps' actions |
//! | `bulwark.saga.compensations` | counter | `name`, `outcome`: `completed`, `failed` | attempts of compensations |
//! | `bulwark.saga.runs` | counter | `name`, `outcome`: `completed`, `compensated`, `parked`, `unsettled` | runs that ended (a parked run waits for an operator) |
//! | `bulwark.saga.claims_lost` | counter | `name` | runs that found their claim taken by another run |
//! | `bulwark.health.check.status` | gauge | `name` (the aggregator), `check`, `status`: `healthy`, `degraded`, `unhealthy` | 1 for the check's reported status, 0 for the others |
//! | `bulwark.health.check.duration_seconds` | histogram | `name`, `check` | how long each run of the check took |
//! | `bulwark.health.status` | gauge | `name`, `status` | 1 for the overall status, 0 for the others |
//! | `bulwark.chaos.faults` | counter | `name`, `fault`: `error`, `hang`, `latency` | faults injected |
//!
//! Two figures are not gauges because no timer runs to publish them: an open breaker half-opens
//! at the first call after its open duration (the state gauge says `open` until then), and a
//! health result goes stale when it is read (the status gauges follow the runs).
//!
//! The cost per call with a recorder installed is in `BENCHMARKS.md`.
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
#[cfg(feature = "serde")]
pub mod config;
#[cfg(feature = "timeout")]
pub mod timeout;

#[cfg(feature = "bulkhead")]
pub mod bulkhead;
#[cfg(feature = "circuit-breaker")]
pub mod circuit_breaker;
#[cfg(feature = "fallback")]
pub mod fallback;
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "hedge")]
pub mod hedge;
#[cfg(feature = "keyed")]
pub mod keyed;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;

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
#[cfg(any(feature = "bulkhead", feature = "rate-limit"))]
mod start;
#[cfg(any(feature = "bulkhead", feature = "circuit-breaker", feature = "retry"))]
mod stripe;

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
