//! The tower layer of the timeout pattern.

use super::{DefaultTimeout, Event, TimeoutService};
use crate::event::Listeners;
use std::fmt;
use std::time::Duration;
use tower::Layer;

/// Applies a timeout to every call of the services it wraps.
///
/// See the [module docs](super) for the behaviour and an example.
///
/// ```
/// use std::time::Duration;
/// use bulwark::timeout::{Elapsed, TimeoutLayer};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = service_fn(|_: ()| async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, std::io::Error>("late")
/// });
/// let svc = ServiceBuilder::new()
///     .layer(TimeoutLayer::new(Duration::from_millis(250)).name("inventory"))
///     .service(slow);
/// let err = svc.oneshot(()).await.unwrap_err();
/// let elapsed = err.downcast_ref::<Elapsed>().expect("the timeout's error");
/// assert_eq!(elapsed.to_string(), "timed out \"inventory\" after 250ms");
/// # }
/// ```
#[derive(Clone)]
pub struct TimeoutLayer<P = DefaultTimeout> {
    pub(super) timeout: Duration,
    pub(super) backpressure_timeout: Option<Duration>,
    pub(super) per_request: P,
    pub(super) listeners: Listeners<Event>,
}

impl TimeoutLayer {
    /// A layer that fails a call with [`Elapsed`](super::Elapsed) once it has run for `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            backpressure_timeout: None,
            per_request: DefaultTimeout,
            listeners: Listeners::new(&"timeout"),
        }
    }
}

impl<P> TimeoutLayer<P> {
    /// Also bounds the time spent waiting in `poll_ready` for the inner service to become ready.
    ///
    /// tower's own `Timeout` only bounds the call. When the inner service stays not ready for
    /// `limit`, the service reports itself *ready* (an error from `poll_ready` would tell the
    /// caller to throw the service away) and the next call fails at once with an
    /// [`Elapsed`](super::Elapsed) whose
    /// [`while_waiting_for_readiness`](super::Elapsed::while_waiting_for_readiness) is true,
    /// without calling the inner service.
    ///
    /// The trade-off: a stack that uses readiness for backpressure (a `ConcurrencyLimit` below
    /// this layer, say) turns into a stack that sheds load after `limit`, and the caller sees an
    /// error for a request the inner service never saw. The first time the inner service is
    /// pending, the service allocates one timer, which it keeps and re-arms for later waits.
    #[must_use]
    pub fn backpressure_timeout(mut self, limit: Duration) -> Self {
        self.backpressure_timeout = Some(limit);
        self
    }

    /// Chooses the timeout per request: `f` returns `Some(duration)` to override the layer's
    /// timeout for that request, or `None` to keep it. `Some(Duration::MAX)` means no timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bulwark::timeout::TimeoutLayer;
    ///
    /// // Reports may take a minute, everything else a second.
    /// let layer = TimeoutLayer::new(Duration::from_secs(1)).per_request(|path: &&str| {
    ///     path.starts_with("/reports").then_some(Duration::from_secs(60))
    /// });
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn per_request<F>(self, f: F) -> TimeoutLayer<F> {
        TimeoutLayer {
            timeout: self.timeout,
            backpressure_timeout: self.backpressure_timeout,
            per_request: f,
            listeners: self.listeners,
        }
    }

    /// Names this timeout (`"payments"`): the name is in its events, `tracing` fields, metric
    /// labels and [`Elapsed`](super::Elapsed)'s message. Default: `"timeout"`.
    #[must_use]
    pub fn name(mut self, name: impl Into<crate::Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for this layer's [`Event`]s. Listeners run on the task that observed
    /// the event and should return quickly.
    #[must_use]
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// The default timeout of a call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S, P: Clone> Layer<S> for TimeoutLayer<P> {
    type Service = TimeoutService<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService::new(inner, self.clone())
    }
}

impl<P> fmt::Debug for TimeoutLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutLayer")
            .field("timeout", &self.timeout)
            .field("backpressure_timeout", &self.backpressure_timeout)
            .field("per_request", &std::any::type_name::<P>())
            .field("listeners", &self.listeners)
            .finish()
    }
}
