//! The tower layer of the circuit breaker.

use super::{CircuitBreaker, CircuitBreakerService};
use crate::classify::DefaultClassifier;
use std::fmt;
use tower::Layer;

/// Wraps services in one shared [`CircuitBreaker`]; made by [`CircuitBreaker::layer`].
///
/// However many times [`Layer::layer`] is called, every service it makes (and every clone of
/// those) shares the breaker the layer was made from: no fresh state is ever minted.
///
/// ```
/// use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::BoxError> {
/// let breaker = CircuitBreaker::builder()
///     .name("shipping")
///     .consecutive_failures(2)
///     .build()?;
/// let mut svc = ServiceBuilder::new()
///     .layer(breaker.layer())
///     .service(service_fn(|_: ()| async { Err::<(), _>(std::io::Error::other("503")) }));
/// for _ in 0..2 {
///     let _ = svc.ready().await?.call(()).await;
/// }
/// let err = svc.ready().await?.call(()).await.unwrap_err();
/// assert!(err.is::<CircuitOpen>(), "refused without calling the service: {err}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreakerLayer<C = DefaultClassifier> {
    breaker: CircuitBreaker<C>,
    backpressure: bool,
}

impl<C> CircuitBreakerLayer<C> {
    /// A layer over `breaker`; same as [`CircuitBreaker::layer`].
    pub fn new(breaker: CircuitBreaker<C>) -> Self {
        Self {
            breaker,
            backpressure: false,
        }
    }

    /// Switches to backpressure mode: while the circuit is open, `poll_ready` is `Pending` (with
    /// a timer) until the open duration has passed, instead of `Ready` with a call that fails at
    /// once.
    ///
    /// Only [`State::Open`](super::State::Open) waits. A half-open circuit whose probe slots are
    /// all taken, and a forced-open circuit, still fail fast: waiting behind a probe would queue
    /// callers on the one downstream that is known to be in trouble. Put a timeout around the
    /// wait (an outer [`TimeoutLayer`](crate::timeout::TimeoutLayer) with a
    /// [`backpressure_timeout`](crate::timeout::TimeoutLayer::backpressure_timeout), or the
    /// caller's own) if callers cannot wait for a whole open duration. See the
    /// [module docs](super#backpressure).
    #[must_use]
    pub fn backpressure(mut self) -> Self {
        self.backpressure = true;
        self
    }

    /// Whether this layer makes services in backpressure mode.
    pub fn is_backpressure(&self) -> bool {
        self.backpressure
    }

    /// The breaker every service of this layer shares.
    pub fn breaker(&self) -> &CircuitBreaker<C> {
        &self.breaker
    }
}

impl<S, C> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(
            inner,
            self.breaker.clone(),
            self.backpressure,
            super::sync::stripe_count(),
        )
    }
}

impl<C> fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .field("backpressure", &self.backpressure)
            .finish()
    }
}
