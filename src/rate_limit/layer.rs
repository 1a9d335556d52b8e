//! The tower layer of the rate limiter.

use super::{RateLimitService, RateLimiter};
use tower::Layer;

/// Wraps services in a [`RateLimiter`]; made by [`RateLimiter::layer`].
///
/// Every service it makes, and every clone of those, shares the one limit it was made from,
/// however many times [`Layer::layer`] is called.
///
/// ```
/// use std::time::Duration;
/// use bulwark::rate_limit::{RateLimited, RateLimiter};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::BoxError> {
/// let limiter = RateLimiter::builder().rate(2, Duration::from_secs(1)).burst(2).build()?;
/// let mut svc = ServiceBuilder::new()
///     .layer(limiter.layer())
///     .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>(()) }));
/// svc.ready().await?.call(()).await?;
/// svc.ready().await?.call(()).await?;
/// let err = svc.ready().await?.call(()).await.unwrap_err();
/// let limited = err.downcast_ref::<RateLimited>().expect("over the limit");
/// assert_eq!(limited.retry_after(), Duration::from_millis(500));
/// # Ok(())
/// # }
/// ```
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
