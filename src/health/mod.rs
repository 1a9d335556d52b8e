//! Runs a service's health checks concurrently and aggregates them into liveness, readiness and
//! startup reports, with an HTTP endpoint for probes.
//!
//! Use it for the `/health`, `/health/live` and `/health/ready` endpoints that orchestrators and
//! load balancers poll. It avoids the known faults of the usual aggregators: checks run
//! concurrently, each with its own timeout (a hung database does not hang the endpoint); a burst
//! of probes runs each check once (no stampede on the database); a panicking check is reported,
//! not fatal; and a cached "healthy" expires instead of being served after the database is gone.
//!
//! # Checks
//!
//! A check is anything implementing [`HealthCheck`] (an `async fn check(&self) -> Health`), or a
//! closure through [`check_fn`] / [`Check::from_fn`] returning anything [`IntoHealth`]:
//! a [`Health`], a [`Status`], a `bool`, or a `Result` whose error becomes the message. A
//! [`Check`] registers it with a name, [`Tag`]s (liveness, readiness, startup or custom), a
//! timeout, hysteresis, and whether it is critical (the default) or optional.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::health::{Check, Health, HealthAggregator, Status, Tag};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let health = HealthAggregator::builder()
//!     .check(Check::from_fn("db", || async { Ok::<(), std::io::Error>(()) })
//!         .readiness()
//!         .timeout(Duration::from_secs(1)))
//!     .check(Check::from_fn("search", || async { Health::unhealthy("index offline") })
//!         .readiness()
//!         .optional())
//!     .check(Check::from_fn("event-loop", || async { true }).liveness())
//!     .build()?;
//!
//! let ready = health.report_for(Tag::Readiness).await;
//! // An optional check that fails degrades the report; it does not fail it.
//! assert_eq!(ready.status(), Status::Degraded);
//! assert_eq!(ready.check("search").unwrap().message(), Some("index offline"));
//!
//! let live = health.report_for(Tag::Liveness).await;
//! assert_eq!(live.status(), Status::Healthy);
//! assert_eq!(live.checks().len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! Checks run concurrently on the task that asks for the report (or on the background task),
//! like the futures of `join_all`: a check that blocks its thread blocks the others, so one
//! that must do blocking work should hand it to `tokio::task::spawn_blocking`.
//!
//! Ready-made checks: `CircuitBreakerCheck` (with the `circuit-breaker` feature) reports a
//! breaker's state, `Degraded` when open; `BulkheadCheck` (with the `bulkhead` feature) reports
//! a bulkhead's saturation, `Degraded` from 90% by default.
//!
//! # Statuses
//!
//! [`Status`] is `Healthy`, `Degraded` or `Unhealthy`. A report's status is the worst status of
//! its critical checks, with an optional check counting at worst as `Degraded`. A check that
//! times out, or panics, is `Unhealthy` with a message saying so; the panic is caught
//! (`catch_unwind` around the check's future) and the aggregator carries on.
//!
//! A check's timeout counts from the moment its run is created, and the deadline wins whenever
//! it has passed: a result that arrives after it is `Unhealthy` ("timed out"), whoever polls the
//! run and whenever. That matters for a run its callers abandoned (see
//! [Cancellation](#cancellation)): when the next caller resumes it, a check that has finished
//! meanwhile, but after its deadline, is reported timed out, not with its late answer.
//!
//! Keep liveness checks free of dependencies: a liveness probe that fails restarts the process,
//! and restarting every replica because the database is down does not bring the database back.
//! For the same reason a circuit breaker's check reports an open circuit as `Degraded`, not
//! `Unhealthy`, by default: breakers wired into readiness have taken whole fleets out of their
//! load balancers at once.
//!
//! # Runs, caching and background mode
//!
//! By default checks run *on demand*: a report runs the checks it covers, concurrently, and
//! their results are reused for [`cache_for`](HealthAggregatorBuilder::cache_for) (default one
//! second). Callers asking while a check runs join that run rather than starting another, so a
//! burst of probes runs each check once. With `cache_for(Duration::ZERO)` a result is never
//! reused once complete, but runs in progress are still shared.
//!
//! In *background* mode ([`background`](HealthAggregatorBuilder::background)), a task runs
//! every check at an interval and reports read the latest results without running anything
//! (only the very first report waits for the first run). A result whose age reaches
//! [`max_age`](HealthAggregatorBuilder::max_age) is reported `Unhealthy` and marked stale,
//! whatever it said: if the task is starved or stuck, the endpoint says so rather than serving
//! an old "healthy". The watch and the metrics say so too (see [Watching](#watching)). The task
//! ends when the last clone of the aggregator is dropped.
//!
//! # Hysteresis
//!
//! [`Check::failure_threshold`] requires `n` consecutive failures before a check that was up is
//! reported `Unhealthy`; [`Check::success_threshold`] requires `m` consecutive successes before
//! it is reported up again. The first result is taken as it is. [`CheckReport::observed`] is
//! what the last run said, [`CheckReport::status`] what is reported.
//!
//! # Watching
//!
//! [`HealthAggregator::watch`] is a `tokio::sync::watch` receiver of the overall status of every
//! check; [`Metrics::status`] is the same status. Both agree with what a report of every
//! check says at the moment they are read, staleness included: a check with no result yet
//! counts as failing, a stale result as `Unhealthy`.
//!
//! The status is published when a result is recorded (after each report that ran a check, and
//! after each background round) and whenever anything reads a status: a report, a `metrics()`
//! call, a new `watch()`. Staleness needs no reader: in background mode the task wakes at the
//! moment the oldest result reaches `max_age`, wherever it is waiting (for the next tick, or for
//! a round in progress), and publishes `Unhealthy` then. The one gap is a runtime too starved to
//! run the task or any reader: the watch then changes when the task next runs, before it starts
//! the round that refreshes the result.
//!
//! # HTTP
//!
//! With the `http` feature, [`HealthAggregator::endpoint`] is a tower `Service` for any
//! `http::Request` that answers `/health` (every check), `/health/live`, `/health/ready` and
//! `/health/startup` (the checks with that tag): `200` for `Healthy` and `Degraded`, `503` for
//! `Unhealthy`. The body is `application/health+json`, or Spring Boot's shape
//! ([`JsonFormat::Spring`]); it shows only the overall status unless configured to show more.
//! Paths, the status code for `Degraded` (Consul reads `429` as a warning) and the JSON shape
//! are configurable. In axum, the endpoint is a route:
//!
//! ```no_run
//! # #[cfg(feature = "http")] {
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use bulwark::health::{Check, HealthAggregator};
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let health = HealthAggregator::builder()
//!     .background(Duration::from_secs(10))
//!     .check(Check::from_fn("db", || async { Ok::<(), std::io::Error>(()) }).readiness())
//!     .check(Check::from_fn("event-loop", || async { true }).liveness())
//!     .build()?;
//!
//! let endpoint = health.endpoint().show_details(true);
//! let app = Router::new()
//!     .route("/orders", get(|| async { "[]" }))
//!     .route_service("/health", endpoint.clone())
//!     .route_service("/health/live", endpoint.clone())
//!     .route_service("/health/ready", endpoint);
//!
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! The endpoint matches the whole request path, so mount it with `route_service` (or as a
//! `fallback_service`), not `nest_service`, which strips the prefix. With hyper alone, wrap it in
//! `hyper_util::service::TowerToHyperService`. With the `serde` feature alone, a
//! [`HealthReport`] serializes to health+json, and [`HealthReport::json`] gives either shape.
//!
//! # Clone
//!
//! A [`HealthAggregator`] clone shares everything: checks, results, runs in progress, the
//! background task. So does a [`HealthEndpoint`] clone, which holds a clone of the aggregator.
//!
//! # Backpressure
//!
//! The endpoint is always ready. Load on the checks is bounded by the cache and by run sharing,
//! not by refusing probes: however many probes arrive, each check runs at most once at a time.
//!
//! # Cancellation
//!
//! Dropping a report's future does not cancel the runs it started: a run belongs to every caller
//! waiting for it, and the next caller that asks for the check resumes and joins it. Its timeout
//! counts from its creation, so a run left alone for longer than its timeout ends as timed out,
//! even if its check finished meanwhile.
//! Dropping the last aggregator clone aborts the background task.
//!
//! # Events
//!
//! [`HealthAggregatorBuilder::on_event`] registers listeners for [`Event`]s (a check's status
//! changed; the overall status changed); with the `tracing` feature every event is also a
//! `tracing` event with target `bulwark::health`. Events are delivered once a report's runs
//! are done (by the report's caller, a `metrics()` or `watch()` caller, or the background task),
//! never inside a run that other callers share and never under a lock. A listener that panics
//! is caught and reported (with `tracing`, as an error event): the report's future, the
//! background task and the other listeners carry on, and each listener gets every event.
//!
//! # Cost
//!
//! A run allocates (the check's boxed future, the shared run, the result); a cached result costs
//! a lock and a few reference-count increments per check. `benches/health.rs` measures 100 trivial
//! checks against the same closures joined directly.

#[cfg(all(feature = "health", feature = "circuit-breaker"))]
mod breaker_check;
mod builder;
#[cfg(all(feature = "health", feature = "bulkhead"))]
mod bulkhead_check;
mod check;
mod events;
#[cfg(feature = "http")]
mod future;
#[cfg(feature = "grpc")]
mod grpc;
mod handle;
mod inner;
#[cfg(feature = "serde")]
mod json;
#[cfg(all(feature = "health", feature = "circuit-breaker", feature = "keyed"))]
mod keyed_breaker_check;
mod register;
mod report;
#[cfg(feature = "http")]
mod service;
mod slot;
mod status;

#[cfg(all(feature = "health", feature = "circuit-breaker"))]
pub use breaker_check::CircuitBreakerCheck;
pub use builder::{DEFAULT_CACHE_FOR, DEFAULT_TIMEOUT, HealthAggregatorBuilder};
#[cfg(all(feature = "health", feature = "bulkhead"))]
pub use bulkhead_check::BulkheadCheck;
pub use check::{Detail, Details, FnCheck, Health, HealthCheck, IntoHealth, Status, Tag, check_fn};
pub use events::{Event, Metrics};
#[cfg(feature = "grpc")]
pub use grpc::GrpcHealthTask;
pub use handle::{HealthAggregator, Selection};
#[cfg(all(feature = "health", feature = "circuit-breaker", feature = "keyed"))]
pub use keyed_breaker_check::KeyedCircuitBreakerCheck;
pub use register::Check;
pub use report::{CheckReport, HealthReport};

#[cfg(feature = "http")]
pub use future::ResponseFuture;
#[cfg(feature = "serde")]
pub use json::{JsonFormat, ReportJson, Visibility};
#[cfg(feature = "http")]
pub use service::HealthEndpoint;
