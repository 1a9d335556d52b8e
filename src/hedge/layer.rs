//! The tower layer of the hedge.

use super::{Hedge, HedgeService};
use tower::Layer;

/// Wraps services in a [`Hedge`]; made by [`Hedge::layer`].
///
/// Every service it makes, and every clone of those, shares the one hedge it was made from (its
/// delay, budget and counters), however many times [`Layer::layer`] is called.
#[derive(Clone, Debug)]
pub struct HedgeLayer {
    hedge: Hedge,
}

impl HedgeLayer {
    pub(super) fn new(hedge: Hedge) -> Self {
        Self { hedge }
    }

    /// The hedge this layer's services share.
    pub fn hedge(&self) -> &Hedge {
        &self.hedge
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = HedgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HedgeService::new(inner, self.hedge.clone())
    }
}
