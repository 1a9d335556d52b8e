//! Stops calling a downstream that keeps failing, and lets it recover.
//!
//! Use a circuit breaker on calls to a dependency that can fail or slow down for a while (a
//! database, another service): once the failure rate in a sliding window crosses a threshold,
//! the circuit *opens* and calls fail at once with [`CircuitOpen`] instead of piling onto the
//! struggling dependency. After the open duration the circuit *half-opens* and lets a few probe
//! calls through; if they succeed it *closes*, if not it opens again.
//!
//! # Standalone
//!
//! [`CircuitBreaker::run`] runs an async call if the circuit admits it, and records its outcome;
//! its error is the crate's flat [`Error`](crate::Error). When the circuit is open the closure is
//! not even invoked:
//!
//! ```
//! use std::io;
//! use std::time::Duration;
//! use bulwark::Error;
//! use bulwark::circuit_breaker::{CircuitBreaker, State};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = CircuitBreaker::builder()
//!     .count_window(10)
//!     .minimum_calls(4)
//!     .failure_rate_threshold(0.5)
//!     .open_duration(Duration::from_secs(5))
//!     .build()?;
//!
//! let refused = || async { Err::<(), _>(io::Error::other("connection refused")) };
//! for _ in 0..4 {
//!     let _ = breaker.run(refused).await;
//! }
//! assert_eq!(breaker.state(), State::Open);
//!
//! match breaker.run(|| async { Ok::<_, io::Error>("never called") }).await {
//!     Err(Error::CircuitOpen(open)) => assert_eq!(open.retry_after(), Duration::from_secs(5)),
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//!
//! // After the open duration, probe calls close the circuit again.
//! tokio::time::advance(Duration::from_secs(5)).await;
//! for _ in 0..5 {
//!     breaker.run(|| async { Ok::<_, io::Error>(()) }).await?;
//! }
//! assert_eq!(breaker.state(), State::Closed);
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`CircuitBreaker::layer`] gives a [`CircuitBreakerLayer`]. Every service it makes, and every
//! clone of those, shares the one breaker, so the breaker can be kept for [`metrics`], manual
//! control or a second stack. An open circuit does not fail `poll_ready`: the service reports
//! ready, and the response future fails at once with a [`CircuitOpen`] inside the
//! [`BoxError`](crate::BoxError), without calling the inner service.
//!
//! ```
//! use bulwark::ServiceBuilderExt;
//! use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let breaker = CircuitBreaker::builder().count_window(5).minimum_calls(5).build()?;
//! let mut svc = ServiceBuilder::new()
//!     .circuit_breaker(&breaker)
//!     .service(service_fn(|fail: bool| async move {
//!         if fail { Err::<&str, BoxError>("boom".into()) } else { Ok("ok") }
//!     }));
//!
//! assert_eq!(svc.ready().await?.call(false).await?, "ok");
//! for _ in 0..4 {
//!     let _ = svc.ready().await?.call(true).await;
//! }
//! let err = svc.ready().await?.call(false).await.unwrap_err();
//! assert!(err.is::<CircuitOpen>());
//! assert_eq!(breaker.metrics().rejected, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Classifying results
//!
//! By default an `Err` is a failure and an `Ok` a success. A [`Classify`](crate::classify::Classify)
//! (any closure over `&Result<T, E>`) can say otherwise. For HTTP, a 5xx response is the
//! downstream's failure, a 4xx is the caller's mistake and should not count at all:
//!
//! ```
//! use bulwark::circuit_breaker::{CircuitBreaker, State};
//! use bulwark::classify::Verdict;
//!
//! #[derive(Debug)]
//! struct Response { status: u16 }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let breaker = CircuitBreaker::builder()
//!     .count_window(4)
//!     .minimum_calls(4)
//!     .classifier(|result: &Result<Response, std::io::Error>| match result {
//!         Ok(r) if r.status >= 500 => Verdict::Failure,
//!         Ok(r) if r.status >= 400 => Verdict::Ignored,
//!         Ok(_) => Verdict::Success,
//!         Err(_) => Verdict::Failure,
//!     })
//!     .build()?;
//!
//! for _ in 0..10 {
//!     // Not found: the caller's problem, not recorded.
//!     let _ = breaker.run(|| async { Ok(Response { status: 404 }) }).await;
//! }
//! assert_eq!(breaker.metrics().calls, 0);
//! for _ in 0..4 {
//!     let _ = breaker.run(|| async { Ok(Response { status: 503 }) }).await;
//! }
//! assert_eq!(breaker.state(), State::Open);
//! # Ok(())
//! # }
//! ```
//!
//! # The rules
//!
//! - **Windows.** [`Builder::count_window`] keeps exactly the last `n` recorded calls, in a ring,
//!   in recording order whatever thread records them (see *Concurrency and cost*);
//!   [`Builder::time_window`] keeps the calls of the last duration, in ten buckets. Both use fixed
//!   memory and fixed work per call, whatever the throughput. Ignored calls are not recorded.
//! - **Trip rules**, each optional, checked after every failed or slow call (a success never
//!   opens the circuit): the failure rate reaches [`Builder::failure_rate_threshold`]; the rate
//!   of calls slower than a duration reaches [`Builder::slow_call_threshold`]; or
//!   [`Builder::consecutive_failures`] failures came in a row. The rate rules wait until the
//!   window holds [`Builder::minimum_calls`] calls (or is full, for a smaller count window).
//! - **Open → half-open** when the first call arrives after the open duration. With
//!   [`Builder::open_duration_backoff`], the open duration grows along a shared
//!   [`backoff`](crate::backoff) (capped, with jitter) each time a half-open trial fails, and
//!   starts again from the base after the circuit closes.
//! - **Half-open** admits at most [`Builder::permitted_calls_in_half_open`] probes at once. It
//!   re-opens as soon as the failed (or slow) probes reach the threshold as a share of the
//!   permitted number, and closes once that many probes completed without doing so. A breaker
//!   that has not decided within [`Builder::max_wait_in_half_open`] is open from that moment;
//!   no timer runs, the state is computed when it is read (a call, `state()`, `metrics()`).
//! - **Closing** starts an empty window. A call admitted before any state change completes
//!   unrecorded after it: it belongs to a period that is over.
//! - **Manual states**: [`CircuitBreaker::force_open`] rejects everything, [`disable`] lets
//!   everything through and records nothing, [`metrics_only`] records but never trips;
//!   [`reset`] closes with an empty window.
//!
//! [`metrics`]: CircuitBreaker::metrics
//! [`disable`]: CircuitBreaker::disable
//! [`metrics_only`]: CircuitBreaker::metrics_only
//! [`reset`]: CircuitBreaker::reset
//!
//! # Clone
//!
//! A [`CircuitBreaker`] clone is another handle to the same circuit. A [`CircuitBreakerService`]
//! clone clones the inner service and shares the circuit; the probe slot (or rejection) reserved
//! by one clone's `poll_ready` belongs to that clone only. Each service made by
//! [`Layer::layer`](tower::Layer::layer) holds its own references to the breaker, shared by that
//! service's clones: one per stripe of threads (twice as many stripes as CPUs), each made the
//! first time a call on a thread of its stripe needs it (one small allocation). A response
//! future counts itself in its thread's reference only, so the calls of one service on
//! different cores, and services made for different connections, do not write the same
//! reference count; a clone allocates nothing, so a retry layer above, which clones the service
//! it wraps for every call, costs no allocation here.
//!
//! # Backpressure
//!
//! By default an open circuit is `Ready` and fails fast, as tower's `LoadShed` does.
//! [`CircuitBreakerLayer::backpressure`] makes `poll_ready` wait out the open duration
//! instead. A half-open probe slot is reserved in `poll_ready` and moved into the response
//! future. A closed circuit has no capacity to reserve: `poll_ready` notes that the call is
//! admitted and otherwise forwards to the inner service.
//!
//! # Cancellation
//!
//! Dropping a response future (or the future of [`CircuitBreaker::run`]) before it completes
//! gives back its half-open probe slot without counting the probe, so a breaker whose probes are
//! all dropped goes on admitting new ones. In the closed state, [`Builder::dropped_calls`] decides
//! whether a dropped call is ignored (the default) or counted as a failure. Dropping a service
//! that reserved a slot in `poll_ready` but was never called gives the slot back too.
//!
//! # Concurrency and cost
//!
//! The state is one atomic word; admitting a call in the closed state is one load of it.
//!
//! A count window numbers the calls it records with one shared cursor, so it holds exactly the
//! last `n` calls in the order they were recorded, whatever thread records them: a call whose
//! recording ended before another's began (on any thread: the second learned of the first through
//! a channel, a lock, a join or a task hand-off) comes first. Calls whose recordings overlap in
//! time are taken in some order, and the window is exactly the last `n` calls of that order; an
//! older call never overwrites a newer one. A full window whose calls are all alike (all
//! successes, for a healthy dependency) is marked so, and a call like them is not written at all:
//! the common case reads one shared word and writes none. Any other call writes the cursor's
//! cache line twice (compare-and-swaps, no lock). A time window's buckets are per-thread stripes
//! (like Java's `LongAdder`; twice as many stripes as CPUs, so threads share one only beyond
//! that), so callers on many threads do not contend on one cache line.
//!
//! Half-open admission is a compare-and-swap on one word, so no number of racing threads gets
//! more probes than permitted. Transitions take a mutex for a few stores, never across an
//! `.await`, and the listeners run after it is released.
//!
//! The closed state with a count window and no slow-call rule never reads the clock. A time
//! window reads it once per recorded call, the slow-call rule twice per call, an open circuit
//! once per rejected call. Nothing allocates per call, except that the tower door boxes a
//! rejection into a [`BoxError`](crate::BoxError), as every tower error is.
//!
//! # Metrics
//!
//! [`CircuitBreaker::metrics`] gives the state, the window's figures, the half-open probes and the
//! rejections. While the circuit is open (or half-open, or forced open, or disabled) the window's
//! figures are those it held when the circuit left the closed state, so an operator sees the
//! window that tripped it; the probe figures count the current half-open period. See [`Metrics`].
//!
//! # Events
//!
//! [`Builder::on_event`] registers listeners for [`Event`]s: state changes (with an [`OpenReason`]),
//! rejections, and recorded calls. [`CircuitBreaker::subscribe`] gives a `tokio::sync::watch`
//! receiver of the state. With the `tracing` feature every event is also a `tracing` event with
//! target `bulwark::circuit_breaker`.

mod builder;
mod core;
mod count_window;
mod error;
mod events;
mod future;
mod handle;
mod layer;
mod live;
#[cfg(feature = "retry")]
pub(crate) mod open_types;
mod probes;
mod record;
mod service;
mod settings;
mod state;
mod sync;
mod time_window;
mod transition;
mod window;

pub use builder::{Builder, DroppedCall, WindowKind};
#[cfg_attr(
    not(all(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead"
    )),
    allow(unused_imports, reason = "used by the pipeline")
)]
pub(crate) use core::Ticket;
pub use error::CircuitOpen;
pub use events::{Event, Metrics, OpenReason};
pub use future::{ResponseFuture, Run};
pub use handle::CircuitBreaker;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;
pub use settings::{Settings, SlowCall};
pub use state::State;
