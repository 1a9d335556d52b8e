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
//! [`TimeoutLayer::ready_timeout`] also bounds the wait for readiness; read its trade-off before
//! turning it on.
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
pub mod future;
mod layer;
mod service;

use crate::event::{Listeners, PatternEvent};
use std::future::IntoFuture;
use std::time::Duration;

pub use error::Elapsed;
pub use future::{ResponseFuture, Run};
pub use layer::TimeoutLayer;
pub use service::TimeoutService;

/// A standalone timeout: bounds any future with [`run`](Self::run).
///
/// Cheap to clone; clones share their listeners.
#[derive(Clone, Debug)]
pub struct Timeout {
    duration: Duration,
    listeners: Listeners<Event>,
}

impl Timeout {
    /// A timeout of `duration`.
    pub fn new(duration: Duration) -> Self {
        Self {
            duration,
            listeners: Listeners::new(),
        }
    }

    /// Registers a listener for this timeout's [`Event`]s.
    #[must_use]
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// The time a call may take.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `future`, failing with [`Elapsed`] if it has not completed within the timeout.
    ///
    /// The deadline starts now, not at the first poll.
    pub fn run<F: IntoFuture>(&self, future: F) -> Run<F::IntoFuture> {
        Run::new(future.into_future(), self.duration, self.listeners.clone())
    }

    /// A tower layer with this timeout and these listeners.
    pub fn layer(&self) -> TimeoutLayer {
        let mut layer = TimeoutLayer::new(self.duration);
        layer.listeners = self.listeners.clone();
        layer
    }
}

/// Something that happened in a timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call, or a wait for readiness, ran out of time.
    TimedOut {
        /// The timeout that ran out.
        after: Duration,
        /// Whether it was the wait for the inner service's readiness that ran out.
        waiting_for_readiness: bool,
    },
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::TimedOut {
                after,
                waiting_for_readiness,
            } => tracing::warn!(
                target: "bulwark::timeout",
                after_ms = after.as_millis() as u64,
                waiting_for_readiness,
                "timed out"
            ),
        }
    }
}

/// Chooses the timeout of one request; see [`TimeoutLayer::per_request`].
///
/// Implemented for closures `Fn(&Req) -> Option<Duration>` and for [`DefaultTimeout`].
pub trait RequestTimeout<Req> {
    /// The timeout for `request`, or `None` to use the layer's own.
    fn timeout_for(&self, request: &Req) -> Option<Duration>;
}

/// Uses the layer's timeout for every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultTimeout;

impl<Req> RequestTimeout<Req> for DefaultTimeout {
    #[inline]
    fn timeout_for(&self, _: &Req) -> Option<Duration> {
        None
    }
}

impl<F, Req> RequestTimeout<Req> for F
where
    F: Fn(&Req) -> Option<Duration>,
{
    #[inline]
    fn timeout_for(&self, request: &Req) -> Option<Duration> {
        self(request)
    }
}
