//! The tower rejection of the rate limiter.

use std::fmt;
use std::time::Duration;

/// A rate limiter turned a call away: it was over the limit, and could not be admitted within
/// `max_wait` (by default the limiter does not wait).
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<RateLimited>()` or `err.downcast_ref::<RateLimited>()`); the standalone
/// [`RateLimiter::run`](super::RateLimiter::run) returns it inside
/// [`Error::RateLimited`](crate::Error::RateLimited).
///
/// A call turned away was never started, and took nothing from the limit.
///
/// At the edge of a service it becomes a `429 Too Many Requests` with a `Retry-After`:
///
/// ```
/// use std::time::Duration;
/// use bulwark::rate_limit::{RateLimited, RateLimiter};
/// use tower::BoxError;
///
/// /// The `Retry-After` header (whole seconds, rounded up) for an error from a stack with a
/// /// rate limit in it.
/// fn retry_after_header(err: &BoxError) -> Option<u64> {
///     let limited = err.downcast_ref::<RateLimited>()?;
///     Some(limited.retry_after().as_secs_f64().ceil() as u64)
/// }
///
/// let limiter = RateLimiter::builder().rate(1, Duration::from_secs(90)).build()?;
/// limiter.try_acquire()?;
/// let err: BoxError = limiter.try_acquire().unwrap_err().into();
/// assert_eq!(retry_after_header(&err), Some(90));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    retry_after: Duration,
    /// The store (Redis) did not answer, and the policy turned the call away.
    pub(super) unavailable: bool,
}

impl RateLimited {
    pub(crate) const fn new(retry_after: Duration) -> Self {
        Self {
            retry_after,
            unavailable: false,
        }
    }

    pub(crate) const fn unavailable(retry_after: Duration) -> Self {
        Self {
            retry_after,
            unavailable: true,
        }
    }

    /// How long after the decision a call would have been admitted at once, had no other call
    /// come in the meantime (suitable for an HTTP `Retry-After`, rounded up to whole seconds).
    /// When the limit's store was unavailable, one interval of the limit: a guess.
    pub const fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unavailable {
            return f.write_str("rate limited: the limit's store is unavailable");
        }
        write!(f, "rate limited: retry after {:?}", self.retry_after)
    }
}

impl std::error::Error for RateLimited {}
