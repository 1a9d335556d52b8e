//! The tower layer of the fallback.

use super::{Fallback, FallbackService};
use std::fmt;
use tower::Layer;

/// Wraps services in a [`Fallback`]; made by [`Fallback::layer`].
///
/// Every service it makes, and every clone of those, shares the one fallback it was made from
/// (its closure and counters), however many times [`Layer::layer`] is called.
pub struct FallbackLayer<F, C> {
    fallback: Fallback<F, C>,
}

impl<F, C> FallbackLayer<F, C> {
    pub(super) fn new(fallback: Fallback<F, C>) -> Self {
        Self { fallback }
    }

    /// The fallback this layer's services share.
    pub fn fallback(&self) -> &Fallback<F, C> {
        &self.fallback
    }
}

impl<F, C> Clone for FallbackLayer<F, C> {
    fn clone(&self) -> Self {
        Self {
            fallback: self.fallback.clone(),
        }
    }
}

impl<F, C> fmt::Debug for FallbackLayer<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl<S, F, C> Layer<S> for FallbackLayer<F, C> {
    type Service = FallbackService<S, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        FallbackService::new(inner, self.fallback.clone())
    }
}
