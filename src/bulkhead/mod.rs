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
//! released as soon as the call's future completes, not when the future is later dropped.
//!
//! # Changing the limits
//!
//! [`Bulkhead::set_max_concurrent`] and [`Bulkhead::set_max_queued`] change the limits while
//! calls run. Raising `max_concurrent` admits waiters at once. Lowering it cancels nothing: the
//! calls already running finish, and no call is admitted until fewer than the new limit run (a
//! waiter handed a slot in the very instant the limit is lowered gives it up and waits again, at
//! the back of the queue). Lowering `max_queued` keeps the calls already waiting.
//!
//! # Metrics and events
//!
//! [`Bulkhead::metrics`] is a snapshot of the calls in flight and queued, the rejections by reason,
//! and the limits. [`Builder::on_event`] registers listeners for [`Event`]s (admitted, queued,
//! rejected); with the `tracing` feature every event is also a `tracing` event with target
//! `bulwark::bulkhead`.
//!
//! # Cost
//!
//! A call that finds a free slot (and nobody waiting) costs one compare-and-swap on the
//! bulkhead's state word, one reference count, and on release one atomic add: no lock, no heap
//! allocation, no clock read, so calls on many threads contend only for that word. The queue's
//! mutex is taken only when every slot is taken or somebody waits. A call that has to wait reads
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
pub use adaptive::{AdaptiveLimit, Aimd, AimdBuilder, Vegas, VegasBuilder};
pub use builder::Builder;
pub use error::{BulkheadFull, FullReason};
pub use events::{Event, Metrics};
pub use future::{ResponseFuture, Run};
pub use handle::Bulkhead;
pub use layer::BulkheadLayer;
pub use service::BulkheadService;
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
