//! The tower layer of the fault injector.

use super::{Chaos, ChaosService};
use std::fmt;
use tower::Layer;

/// Injects faults into the services it wraps; made by [`Chaos::layer`]. Every service shares
/// the one injector.
///
/// ```
/// use bulwark::chaos::Chaos;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let chaos = Chaos::builder().seed(1).error(1.0, || std::io::Error::other("injected")).build()?;
/// let svc = ServiceBuilder::new()
///     .layer(chaos.layer())
///     .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>(()) }));
/// assert_eq!(svc.oneshot(()).await.unwrap_err().to_string(), "injected");
/// # Ok(())
/// # }
/// ```
pub struct ChaosLayer<E> {
    chaos: Chaos<E>,
}

impl<E> ChaosLayer<E> {
    pub(super) fn new(chaos: Chaos<E>) -> Self {
        Self { chaos }
    }
}

impl<S, E> Layer<S> for ChaosLayer<E> {
    type Service = ChaosService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        ChaosService::new(inner, self.chaos.clone())
    }
}

impl<E> Clone for ChaosLayer<E> {
    fn clone(&self) -> Self {
        Self::new(self.chaos.clone())
    }
}

impl<E> fmt::Debug for ChaosLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChaosLayer").field(&self.chaos).finish()
    }
}
