//! Bounds how many calls run at once, and how many may wait for their turn.
//!
//! Put a bulkhead around each dependency that can slow down: when it does, its calls pile up in
//! the bulkhead's few slots and short queue, and every other call past that is turned away at once
//! with [`BulkheadFull`], instead of taking every task, connection and buffer of the service
//! with it. Unlike tower's `ConcurrencyLimit`, whose queue has no bound, a bulkhead bounds the
//! number of waiters (`max_queued`) and how long each may wait (`max_wait`).
//!
//! Waiters are served first in, first out. A call turned away was never started.
//!
//! # Standalone
//!
//! [`Bulkhead::run`] runs a closure's future in a slot and returns the crate's flat
//! [`Error`](crate::Error):
//!
//! ```
//! use std::time::Duration;
//! use bulwark::Error;
//! use bulwark::bulkhead::Bulkhead;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bulkhead = Bulkhead::builder()
//!     .max_concurrent(10)
//!     .max_queued(20)
//!     .max_wait(Duration::from_millis(50))
//!     .build()?;
//!
//! let n = bulkhead.run(|| async { Ok::<_, std::io::Error>(42) }).await?;
//! assert_eq!(n, 42);
//!
//! match bulkhead.run(|| async { Err::<(), _>("no such order") }).await {
//!     Err(Error::BulkheadFull(full)) => println!("shed: {full}"),
//!     Err(Error::Inner(e)) => assert_eq!(e, "no such order"),
//!     other => unreachable!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`Bulkhead::layer`] gives a [`BulkheadLayer`]; its errors are [`BoxError`](crate::BoxError)s,
//! and a rejection is a [`BulkheadFull`] inside one:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::bulkhead::{Bulkhead, BulkheadFull};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let bulkhead = Bulkhead::builder().max_concurrent(1).max_queued(0).build()?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(bulkhead.layer())
//!     .service(service_fn(|delay: Duration| async move {
//!         tokio::time::sleep(delay).await;
//!         Ok::<_, BoxError>("done")
//!     }));
//!
//! // One slow call takes the only slot ...
//! let slow = svc.ready().await?.call(Duration::from_secs(1));
//! // ... so the next is turned away at once.
//! let err = svc.ready().await?.call(Duration::ZERO).await.unwrap_err();
//! assert!(err.downcast_ref::<BulkheadFull>().is_some_and(|e| e.is_queue_full()));
//!
//! assert_eq!(slow.await?, "done");
//! assert_eq!(svc.ready().await?.call(Duration::ZERO).await?, "done");
//! # Ok(())
//! # }
//! ```
//!
//! With [`ServiceBuilderExt::bulkhead`](crate::ServiceBuilderExt::bulkhead) the same stack reads
//! `ServiceBuilder::new().bulkhead(&bulkhead)`.
//!
//! # Clone
//!
//! [`Bulkhead`] is a handle: clones, the layers it makes, their services and those services' clones
//! all share one set of slots, one queue and one set of counters. A slot reserved by `poll_ready`
//! (backpressure mode) belongs to one service clone and is not carried over by `clone`.
//!
//! # Backpressure
//!
//! By default, `poll_ready` is the inner service's, and the bulkhead acts in `call` and the
//! response future: `call` takes a free slot at once (held until the response future completes or
//! is dropped), and a call that finds none waits in the response future, in the bounded queue,
//! then runs or fails with [`BulkheadFull`]. The waiting call keeps the inner service that was made ready for it (and
//! leaves a fresh clone in the service, which is why the inner service must be `Clone`), so any
//! reservation made by the layers below is held while it waits.
//!
//! [`BulkheadLayer::backpressure`] turns on the other mode, for stacks that use readiness:
//! `poll_ready` reserves the slot (waiting in the same bounded queue) before it polls the inner
//! service, and the call carries the slot into its response future. When the wait is turned away,
//! `poll_ready` still reports ready and that call fails at once without reaching the inner service,
//! since an error from `poll_ready` would tell the caller to throw the service away.
//!
//! # Cancellation
//!
//! Dropping a call while it waits (the [`Run`] future, the response future, or a service in the
//! middle of a `poll_ready` wait) takes it out of the queue at once; dropping a running call frees
//! its slot, and a slot reserved by `poll_ready` is freed when the service is dropped. A slot is
//! released as soon as the call's future completes, not when the future is later dropped. Either
//! way the call's own future (the closure's, or the inner service's response future) is dropped
//! before its slot is freed, so a future that holds a connection or a request until it is dropped
//! never overlaps the call the freed slot admits next. A call whose closure, future or drop panics
//! frees its slot all the same; the panic reaches the caller.
//!
//! # Changing the limits
//!
//! [`Bulkhead::set_max_concurrent`] and [`Bulkhead::set_max_queued`] change the limits while
//! calls run. Raising `max_concurrent` admits waiters at once. Lowering it cancels nothing: the
//! calls already running finish, and no call is admitted until fewer than the new limit run (a
//! waiter handed a slot in the very instant the limit is lowered gives it up and waits again, at
//! the back of the queue). Lowering `max_queued` keeps the calls already waiting.
//!
//! # Adaptive limits
//!
//! With [`Builder::adaptive`] the limit on calls at once follows the dependency instead of being
//! fixed: [`Aimd`] (TCP's additive increase, multiplicative decrease) or [`Vegas`] (the queue at
//! the dependency, estimated from its latency). It is the same bulkhead, with the same queue,
//! the same [`BulkheadFull`] and the same metrics: the algorithm moves `max_concurrent` through
//! the resize [`Bulkhead::set_max_concurrent`] uses, so a lowered limit cancels nothing (see
//! [Changing the limits](#changing-the-limits)).
//!
//! ```
//! use bulwark::bulkhead::{Aimd, Bulkhead, Event};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let limit = Aimd::builder()
//!     .initial_limit(20)
//!     .min_limit(2)
//!     .max_limit(100)
//!     .backoff(0.5)
//!     .build()?;
//! let bulkhead = Bulkhead::builder()
//!     .name("inventory")
//!     .adaptive(limit)
//!     .max_queued(10)
//!     .on_event(|e| {
//!         if let Event::LimitChanged { name, from, to } = e {
//!             println!("{name}: limit {from} -> {to}");
//!         }
//!     })
//!     .build()?;
//!
//! // The dependency fails a call: AIMD halves the limit at once.
//! let _ = bulkhead.run(|| async { Err::<(), _>("unavailable") }).await;
//! assert_eq!(bulkhead.metrics().max_concurrent, 10);
//! assert_eq!(bulkhead.metrics().adaptive, Some((2, 100)));
//! # Ok(())
//! # }
//! ```
//!
//! **What is reported.** Every call that completes reports its latency, from the moment it took
//! its slot to the moment its future completed (in the tower door, from `call`, also when
//! `poll_ready` reserved the slot earlier), whether it is a drop, and the calls holding a slot
//! then. A call turned away never ran and is not reported; a call cancelled while it runs (its
//! future dropped) is not reported either: it neither completed nor failed.
//!
//! ## What counts as a drop
//!
//! A call whose future returned an `Err` (in the tower door: an error from the inner service)
//! is a drop, the sign that the dependency is overloaded; with AIMD's
//! [`latency_threshold`](AimdBuilder::latency_threshold), so is a call slower than it. Errors
//! that say nothing about load (a "not found" in an `Err`) are better turned into `Ok` values
//! below the bulkhead. Put the per-attempt timeout inside the bulkhead, as the crate's
//! [stack order](crate#a-stack-the-order-and-why) does, so that a hung attempt comes back as an
//! error the bulkhead sees rather than a cancellation it does not. In a
//! `Pipeline` (`bulwark::pipeline`) an attempt is a drop when the pipeline's breaker classifies
//! it as a failure (any `Err` when the pipeline has no breaker), and an attempt the pipeline
//! abandons (its total deadline) is not reported, like a cancelled call.
//!
//! ## Rounds: how fast the limit moves
//!
//! The algorithm decides once per *round*: `limit` reported calls that started at or after the
//! last change of limit. Calls that started earlier ran under another limit and are not counted,
//! so one burst of failures lowers the limit once, and a change is judged only by calls made
//! under it. A drop ends its round at once. The limit thus moves at most one step per round,
//! about two round trips of the dependency at full load (one for the calls started before the
//! change to finish, one for `limit` new calls): in the simulation in `BENCHMARKS.md` (100 ms
//! calls) both algorithms go from 5 to the knee at 20 in about 3 s, a step every ~190 ms.
//!
//! - **AIMD**: after a round without a drop, `limit + 1` if at some completion of the round at
//!   least half the limit was in use (an unused limit is not raised), else unchanged; after a
//!   drop, `floor(limit × backoff)` (at most `limit − 1`).
//! - **Vegas**: `rtt` is the round's mean latency, `rtt_noload` the lowest latency of any call
//!   since the bulkhead was built, `queue = limit × (1 − rtt_noload / rtt)` and `step =
//!   max(1, floor(log10(limit)))`. After a round that used at least half the limit: `limit +
//!   step` if `queue < alpha × max(1, log10(limit))`, `limit − step` if `queue > beta × max(1,
//!   log10(limit))`, else unchanged; after a failed call, `limit − step`. `rtt_noload` never
//!   forgets: if the dependency becomes slower for good, Vegas reads the extra latency as a
//!   queue and lowers the limit towards `min_limit`, where AIMD would not.
//!
//! **Bounds.** Every limit an algorithm chooses is within `min_limit..=max_limit`.
//! [`Bulkhead::set_max_concurrent`] sets the limit the algorithm carries on from (with a new
//! round), even outside those bounds; the algorithm's next change brings it back within them.
//!
//! **Cost.** A fixed bulkhead reads no clock and has no controller. An adaptive one reads the
//! clock when a call takes its slot and when it completes, and takes the controller's `std`
//! mutex once per completion for a few arithmetic operations (no allocation, no user code under
//! it); a change of limit takes the semaphore's mutex too. The figures are in `BENCHMARKS.md`.
//!
//! # Metrics and events
//!
//! [`Bulkhead::metrics`] is a snapshot of the calls in flight and queued, the rejections by reason,
//! and the limits (with an adaptive limit, `max_concurrent` is the limit now).
//! [`Builder::on_event`] registers listeners for [`Event`]s (admitted, queued, rejected, and
//! [`Event::LimitChanged`] when an adaptive limit moves); with the `tracing` feature every event
//! is also a `tracing` event with target `bulwark::bulkhead`.
//!
//! # Cost
//!
//! A call that finds a free slot (and nobody waiting) costs one compare-and-swap, one reference
//! count, and on release one atomic add: no lock, no heap allocation, no clock read. The free
//! slots are spread over per-thread stripes (twice as many as CPUs), each with its own reference
//! count, so calls on different cores write different cache lines; a thread whose stripe is empty
//! takes a slot from the next stripe that has one. The queue's mutex is taken only when no stripe
//! has a free slot or somebody waits, and only there is "no slot free" decided exactly. A call that has to wait reads
//! the clock once and allocates nothing, unless it has a `max_wait`, whose timer is boxed once
//! for that wait; in the default tower mode the waiting call, with its request and the service
//! made ready for it, is boxed too, which keeps the response future small for the calls that do
//! not wait.

mod acquire;
mod adaptive;
mod builder;
mod error;
mod events;
mod future;
mod handle;
mod layer;
mod semaphore;
mod service;
mod settings;
mod state;
mod sync;
mod waiters;

#[cfg_attr(
    not(all(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead"
    )),
    allow(unused_imports, reason = "used by the pipeline")
)]
pub(crate) use acquire::Acquire;
#[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
pub(crate) use acquire::Queued;
pub use adaptive::{AdaptiveLimit, Aimd, AimdBuilder, Vegas, VegasBuilder};
pub use builder::Builder;
pub use error::{BulkheadFull, FullReason};
pub use events::{Event, Metrics};
pub use future::{ResponseFuture, Run};
pub use handle::Bulkhead;
pub use layer::BulkheadLayer;
pub use service::BulkheadService;
pub use settings::Settings;
#[cfg_attr(
    not(all(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead"
    )),
    allow(unused_imports, reason = "used by the pipeline")
)]
pub(crate) use state::Permit;
#[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
pub(crate) use state::Slot;
