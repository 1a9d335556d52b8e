//! The tower layer of the pipeline.

use super::handle::Parts;
use super::{NoFallback, PipelineService};
use crate::backoff::Backoff;
use crate::classify::DefaultClassifier;
use crate::retry::{CloneRequest, DefaultHint, OnError};
use std::fmt;
use std::sync::Arc;
use tower::Layer;

/// Runs every call of the services it makes through one [`Pipeline`](super::Pipeline); made by
/// [`Pipeline::layer`](super::Pipeline::layer).
///
/// Every service it makes, and every clone of those, shares the pipeline's parts, however many
/// times [`Layer::layer`] is called.
pub struct PipelineLayer<
    C = DefaultClassifier,
    B = Backoff,
    P = OnError,
    H = DefaultHint,
    K = CloneRequest,
    Fb = NoFallback,
> {
    parts: Arc<Parts<C, B, P, H, Fb>>,
    reissue: K,
}

impl<C, B, P, H, K, Fb> PipelineLayer<C, B, P, H, K, Fb> {
    pub(super) fn new(parts: Arc<Parts<C, B, P, H, Fb>>, reissue: K) -> Self {
        Self { parts, reissue }
    }

    /// How requests are had again for retries (by default they are cloned): see
    /// [`Reissue`](crate::retry::Reissue), as for [`RetryLayer::reissue`](crate::retry::RetryLayer::reissue).
    pub fn reissue<K2>(self, reissue: K2) -> PipelineLayer<C, B, P, H, K2, Fb> {
        PipelineLayer {
            parts: self.parts,
            reissue,
        }
    }
}

impl<S, C, B, P, H, K: Clone, Fb> Layer<S> for PipelineLayer<C, B, P, H, K, Fb> {
    type Service = PipelineService<S, C, B, P, H, K, Fb>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService::new(
            inner,
            self.parts.clone(),
            self.reissue.clone(),
            crate::stripe::stripe_count(),
        )
    }
}

impl<C, B, P, H, K: Clone, Fb> Clone for PipelineLayer<C, B, P, H, K, Fb> {
    fn clone(&self) -> Self {
        Self::new(self.parts.clone(), self.reissue.clone())
    }
}

impl<C, B, P, H, K: fmt::Debug, Fb> fmt::Debug for PipelineLayer<C, B, P, H, K, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineLayer")
            .field("pipeline", &self.parts)
            .field("reissue", &self.reissue)
            .finish()
    }
}
