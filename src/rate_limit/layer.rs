//! The tower layer of the rate limiter.

use super::{RateLimitService, RateLimiter};
use tower::Layer;

/// Wraps services in a [`RateLimiter`]; made by [`RateLimiter::layer`].
///
/// Every service it makes, and every clone of those, shares the one limit it was made from,
/// however many times [`Layer::layer`] is called.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    pub(super) fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }

    /// The limiter this layer's services share.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService::new(inner, self.limiter.clone())
    }
}
