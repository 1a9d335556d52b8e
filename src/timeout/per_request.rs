//! Choosing the timeout of each request.

use std::time::Duration;

/// Chooses the timeout of one request; see
/// [`TimeoutLayer::per_request`](super::TimeoutLayer::per_request).
///
/// Implemented for closures `Fn(&Req) -> Option<Duration>` and for [`DefaultTimeout`].
pub trait RequestTimeout<Req> {
    /// The timeout for `request`, or `None` to use the layer's own.
    fn timeout_for(&self, request: &Req) -> Option<Duration>;
}

/// Uses the layer's timeout for every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultTimeout;

impl<Req> RequestTimeout<Req> for DefaultTimeout {
    #[inline]
    fn timeout_for(&self, _: &Req) -> Option<Duration> {
        None
    }
}

impl<F, Req> RequestTimeout<Req> for F
where
    F: Fn(&Req) -> Option<Duration>,
{
    #[inline]
    fn timeout_for(&self, request: &Req) -> Option<Duration> {
        self(request)
    }
}
