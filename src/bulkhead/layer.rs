//! The tower layer of the bulkhead pattern.

use super::{Bulkhead, BulkheadService};
use tower::Layer;

/// Wraps services in a [`Bulkhead`]; made by [`Bulkhead::layer`].
///
/// Every service it makes, and every clone of those, shares the one bulkhead it was made from,
/// however many times [`Layer::layer`] is called.
///
/// ```
/// use bulwark::bulkhead::{Bulkhead, BulkheadFull};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::BoxError> {
/// let bulkhead = Bulkhead::builder().name("reports").max_concurrent(1).build()?;
/// let mut svc = ServiceBuilder::new()
///     .layer(bulkhead.layer())
///     .service(service_fn(|_: ()| async {
///         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///         Ok::<_, std::io::Error>(())
///     }));
/// let first = svc.ready().await?.call(());
/// let second = svc.ready().await?.call(());
/// let (first, second) = tokio::join!(first, second);
/// assert!(first.is_ok());
/// assert!(second.unwrap_err().is::<BulkheadFull>(), "one at a time, no queue");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
    backpressure: bool,
}

impl BulkheadLayer {
    pub(super) fn new(bulkhead: Bulkhead) -> Self {
        Self {
            bulkhead,
            backpressure: false,
        }
    }

    /// Switches to backpressure mode: `poll_ready` reserves the slot (waiting for it in the
    /// bounded queue, at most `max_wait`) and the reservation is carried into the call.
    ///
    /// Use it in stacks that rely on readiness, such as under a `Buffer` or a balancer. When the
    /// wait is turned away (queue full, or `max_wait` spent), `poll_ready` still returns ready,
    /// and the next call fails at once with [`BulkheadFull`](super::BulkheadFull) without calling
    /// the inner service: a policy decision is never an error from `poll_ready`. See the
    /// [module docs](super#backpressure).
    #[must_use]
    pub fn backpressure(mut self) -> Self {
        self.backpressure = true;
        self
    }

    /// The bulkhead this layer's services share.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }

    /// Whether this layer makes services in backpressure mode.
    pub fn is_backpressure(&self) -> bool {
        self.backpressure
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService::new(inner, self.bulkhead.clone(), self.backpressure)
    }
}
