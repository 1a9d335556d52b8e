//! The rate limiter handle: the standalone door (`run`) and the source of tower layers.

use super::state::Shared;
use super::{Builder, Metrics, RateLimitLayer, RateLimited, Run};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A rate limiter: at most `n` calls per period, `burst` at once, on the generic cell rate
/// algorithm.
///
/// A cheap-to-clone handle; see the [module docs](super).
///
/// ```
/// use std::time::Duration;
/// use bulwark::rate_limit::RateLimiter;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let limiter = RateLimiter::builder()
///     .rate(10, Duration::from_secs(1))
///     .burst(2)
///     .build()?;
///
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_ok());
/// let over = limiter.try_acquire().unwrap_err();
/// assert_eq!(over.retry_after(), Duration::from_millis(100));
///
/// tokio::time::advance(Duration::from_millis(100)).await;
/// assert!(limiter.try_acquire().is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    pub(super) shared: Arc<Shared>,
}

impl RateLimiter {
    /// A builder; see [`Builder`] for the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs the future `f` returns once the limiter admits the call.
    ///
    /// The call is decided at the future's first poll: admitted at once (`f` is called), or
    /// turned away with [`Error::RateLimited`](crate::Error::RateLimited) (`f` is never called),
    /// or, when its turn is at most `max_wait` away, it waits for its turn and then calls `f`.
    /// The call's own error comes back as [`Error::Inner`](crate::Error::Inner).
    pub fn run<F, Fut, T, E>(&self, f: F) -> Run<F, Fut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Run::new(Arc::clone(&self.shared), f)
    }

    /// Takes one call's cell now, or says how long until one is free. Never waits, whatever
    /// `max_wait` says. On a limiter whose state is in Redis no decision can be made without a
    /// round trip, and every call is turned away as unavailable: use [`run`](Self::run) there.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.shared.try_admit()
    }

    /// How long until a call would be admitted at once (zero if it would be now). Takes nothing.
    /// Local limiters only: zero for a limiter whose state is in Redis.
    pub fn retry_after(&self) -> Duration {
        self.shared.retry_after()
    }

    /// A tower layer whose services take a cell for each call; see
    /// [Backpressure](super#backpressure) for when.
    pub fn layer(&self) -> RateLimitLayer {
        RateLimitLayer::new(self.clone())
    }

    /// A fresh limiter with this one's settings (a keyed limiter's instance for a new key);
    /// `None` when the state is in Redis.
    #[cfg(feature = "keyed")]
    pub(crate) fn fresh(&self) -> Option<Self> {
        Some(Self {
            shared: Arc::new(self.shared.fresh()?),
        })
    }

    /// Whether this limiter's whole burst is available (it then decides as a fresh one would).
    #[cfg(feature = "keyed")]
    pub(crate) fn is_full(&self) -> bool {
        self.shared.is_full()
    }

    /// A snapshot of the limiter's counters and settings. Cheap: a few atomic loads.
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("metrics", &self.metrics())
            .finish()
    }
}
