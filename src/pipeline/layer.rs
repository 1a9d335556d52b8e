//! The tower layer of the pipeline.

use super::PipelineService;
use super::handle::Parts;
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
> {
    parts: Arc<Parts<C, B, P, H>>,
    reissue: K,
}

impl<C, B, P, H, K> PipelineLayer<C, B, P, H, K> {
    pub(super) fn new(parts: Arc<Parts<C, B, P, H>>, reissue: K) -> Self {
        Self { parts, reissue }
    }

    /// How requests are had again for retries (by default they are cloned): see
    /// [`Reissue`](crate::retry::Reissue), as for [`RetryLayer::reissue`](crate::retry::RetryLayer::reissue).
    pub fn reissue<K2>(self, reissue: K2) -> PipelineLayer<C, B, P, H, K2> {
        PipelineLayer {
            parts: self.parts,
            reissue,
        }
    }
}

impl<S, C, B, P, H, K: Clone> Layer<S> for PipelineLayer<C, B, P, H, K> {
    type Service = PipelineService<S, C, B, P, H, K>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService::new(inner, self.parts.clone(), self.reissue.clone())
    }
}

impl<C, B, P, H, K: Clone> Clone for PipelineLayer<C, B, P, H, K> {
    fn clone(&self) -> Self {
        Self::new(self.parts.clone(), self.reissue.clone())
    }
}

impl<C, B, P, H, K: fmt::Debug> fmt::Debug for PipelineLayer<C, B, P, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineLayer")
            .field("pipeline", &self.parts)
            .field("reissue", &self.reissue)
            .finish()
    }
}
