//! Fails a call that takes longer than a set time.
//!
//! Use it on every outbound call whose latency you do not control: a call without a timeout
//! holds its task, its connection and its caller for as long as the other side likes.
//!
//! # Standalone
//!
//! [`Timeout::run`] bounds any future and returns a typed [`Elapsed`] error:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::timeout::{Elapsed, Timeout};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let timeout = Timeout::new(Duration::from_millis(100));
//!
//! let fast = timeout.run(async { 42 }).await;
//! assert_eq!(fast, Ok(42));
//!
//! let slow = timeout.run(tokio::time::sleep(Duration::from_secs(5))).await;
//! let err: Elapsed = slow.unwrap_err();
//! assert_eq!(err.after(), Duration::from_millis(100));
//! # }
//! ```
//!
//! # Tower
//!
//! [`TimeoutLayer`] wraps a service; its errors are [`BoxError`](crate::BoxError)s, and a timeout
//! is an [`Elapsed`] inside one:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::timeout::{Elapsed, TimeoutLayer};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let mut svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_millis(100)))
//!     .service(service_fn(|delay: Duration| async move {
//!         tokio::time::sleep(delay).await;
//!         Ok::<_, BoxError>("done")
//!     }));
//!
//! assert_eq!(svc.ready().await?.call(Duration::from_millis(10)).await?, "done");
//!
//! let err = svc.ready().await?.call(Duration::from_secs(1)).await.unwrap_err();
//! assert!(err.is::<Elapsed>());
//! # Ok(())
//! # }
//! ```
//!
//! The deadline is counted from the moment `call` (or `run`) is invoked. The inner result, success
//! or error, passes through untouched; an inner error is only converted into a `BoxError`.
//!
//! # Per-request timeouts
//!
//! [`TimeoutLayer::per_request`] takes a closure from `&Request` to `Option<Duration>`, so routes
//! can have different budgets (a report endpoint gets a minute, a lookup gets 100 ms). Any type
//! implementing [`RequestTimeout`] works too, for instance one reading a request extension.
//!
//! # Clone
//!
//! A [`TimeoutService`] clone clones the inner service and the configuration. Nothing is shared
//! between clones: a timeout has no state beyond one call.
//!
//! # Backpressure
//!
//! By default `poll_ready` is the inner service's `poll_ready`, unbounded in time, as in tower.
//! [`TimeoutLayer::backpressure_timeout`] also bounds the wait for readiness; read its trade-off
//! before turning it on.
//!
//! # Cancellation
//!
//! Dropping the response future (or the [`Run`] future) drops the inner future and the timer with
//! it: the inner call is cancelled, and nothing is left registered with the runtime.
//!
//! # Cost
//!
//! The timer is armed only when the inner future is still pending at its first poll. A call that
//! completes at once costs one clock read and never touches the runtime's timer, whose shared
//! state is what makes tower's `Timeout` slow when tasks on several threads use it. A call that
//! does wait arms one `tokio::time::Sleep`, stored inline in the future: no heap allocation either
//! way. The deadline is still counted from the start of the call.
//!
//! A timer needs a tokio runtime with time enabled, as `tokio::time::sleep` does.
//!
//! # Events
//!
//! [`TimeoutLayer::on_event`] and [`Timeout::on_event`] register listeners for [`Event`]s; with the
//! `tracing` feature every event is also a `tracing` event with target `bulwark::timeout`.

mod error;
mod events;
mod future;
mod handle;
mod layer;
mod per_request;
mod service;

pub use error::Elapsed;
pub use events::Event;
pub use future::{ResponseFuture, Run};
pub use handle::Timeout;
pub use layer::TimeoutLayer;
pub use per_request::{DefaultTimeout, RequestTimeout};
pub use service::TimeoutService;
