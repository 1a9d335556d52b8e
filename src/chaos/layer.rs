//! The tower layer of the fault injector.

use super::{Chaos, ChaosService};
use std::fmt;
use tower::Layer;

/// Injects faults into the services it wraps; made by [`Chaos::layer`]. Every service shares
/// the one injector.
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
