//! The sealed [`ServiceBuilderExt`] trait: one method per pattern on tower's `ServiceBuilder`.

#[cfg(feature = "timeout")]
use std::time::Duration;
use tower::ServiceBuilder;
#[allow(unused_imports)]
use tower::layer::util::Stack;

mod sealed {
    #[allow(unreachable_pub, missing_debug_implementations)]
    pub trait Sealed<T> {}
}

/// Extension methods on tower's [`ServiceBuilder`] that add bulwark's layers.
///
/// The trait is sealed: it is implemented for `ServiceBuilder` only.
///
/// # Names
///
/// tower's `ServiceBuilder` has inherent methods named `timeout`, `retry`, `rate_limit` and
/// `concurrency_limit` when tower's matching features are enabled, and an inherent method always
/// wins over a trait method. So where tower already uses a name, bulwark's method carries a
/// `bulwark_` prefix (`bulwark_timeout`); where it does not, the method has the pattern's plain
/// name. Each method is equivalent to `.layer(...)` with the pattern's layer, which is the form to
/// use for layers with non-default settings.
///
/// ```
/// # #[cfg(feature = "timeout")] {
/// use std::time::Duration;
/// use bulwark::ServiceBuilderExt;
/// use tower::ServiceBuilder;
///
/// let builder = ServiceBuilder::new().bulwark_timeout(Duration::from_millis(250));
/// # let _ = builder;
/// # }
/// ```
pub trait ServiceBuilderExt<L>: sealed::Sealed<L> + Sized {
    /// Fails calls that take longer than `timeout` with [`Elapsed`](crate::timeout::Elapsed).
    ///
    /// Same as `.layer(TimeoutLayer::new(timeout))`; see [`crate::timeout`].
    #[cfg(feature = "timeout")]
    fn bulwark_timeout(
        self,
        timeout: Duration,
    ) -> ServiceBuilder<Stack<crate::timeout::TimeoutLayer, L>>;

    /// Retries failed calls as `retry` says, sharing its configuration and budget.
    ///
    /// Same as `.layer(retry.layer())`; see [`crate::retry`].
    #[cfg(feature = "retry")]
    fn bulwark_retry<B, P, H>(
        self,
        retry: &crate::retry::Retry<B, P, H>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<B, P, H>, L>>;

    /// Bounds the calls running at once, and those waiting, with a shared
    /// [`Bulkhead`](crate::bulkhead::Bulkhead).
    ///
    /// Same as `.layer(bulkhead.layer())`; see [`crate::bulkhead`].
    #[cfg(feature = "bulkhead")]
    fn bulkhead(
        self,
        bulkhead: &crate::bulkhead::Bulkhead,
    ) -> ServiceBuilder<Stack<crate::bulkhead::BulkheadLayer, L>>;

    /// Limits the rate of calls to the services below with a shared
    /// [`RateLimiter`](crate::rate_limit::RateLimiter).
    ///
    /// Same as `.layer(limiter.layer())`; see [`crate::rate_limit`]. (tower's `ServiceBuilder`
    /// has an inherent `rate_limit`, hence the prefix.)
    #[cfg(feature = "rate-limit")]
    fn bulwark_rate_limit(
        self,
        limiter: &crate::rate_limit::RateLimiter,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer, L>>;

    /// Guards the services below with `breaker`: every service and clone shares that one circuit.
    ///
    /// Same as `.layer(breaker.layer())`; see [`crate::circuit_breaker`].
    #[cfg(feature = "circuit-breaker")]
    fn circuit_breaker<C>(
        self,
        breaker: &crate::circuit_breaker::CircuitBreaker<C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::CircuitBreakerLayer<C>, L>>;
    /// Hedges the calls to the services below with `hedge`: another attempt when one has not
    /// answered after the delay, the first success wins. Every service shares its delay, budget
    /// and counters.
    ///
    /// Same as `.layer(hedge.layer())`; see [`crate::hedge`].
    #[cfg(feature = "hedge")]
    fn hedge(
        self,
        hedge: &crate::hedge::Hedge,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer, L>>;

    /// Replaces the chosen failures of the services below (the rejections of the layers under
    /// it, classified outcomes) with `fallback`'s value. Put it outermost.
    ///
    /// Same as `.layer(fallback.layer())`; see [`crate::fallback`].
    #[cfg(feature = "fallback")]
    fn fallback<F, C>(
        self,
        fallback: &crate::fallback::Fallback<F, C>,
    ) -> ServiceBuilder<Stack<crate::fallback::FallbackLayer<F, C>, L>>;
}

impl<L> sealed::Sealed<L> for ServiceBuilder<L> {}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    #[cfg(feature = "timeout")]
    fn bulwark_timeout(
        self,
        timeout: Duration,
    ) -> ServiceBuilder<Stack<crate::timeout::TimeoutLayer, L>> {
        self.layer(crate::timeout::TimeoutLayer::new(timeout))
    }

    #[cfg(feature = "retry")]
    fn bulwark_retry<B, P, H>(
        self,
        retry: &crate::retry::Retry<B, P, H>,
    ) -> ServiceBuilder<Stack<crate::retry::RetryLayer<B, P, H>, L>> {
        self.layer(retry.layer())
    }

    #[cfg(feature = "bulkhead")]
    fn bulkhead(
        self,
        bulkhead: &crate::bulkhead::Bulkhead,
    ) -> ServiceBuilder<Stack<crate::bulkhead::BulkheadLayer, L>> {
        self.layer(bulkhead.layer())
    }

    #[cfg(feature = "rate-limit")]
    fn bulwark_rate_limit(
        self,
        limiter: &crate::rate_limit::RateLimiter,
    ) -> ServiceBuilder<Stack<crate::rate_limit::RateLimitLayer, L>> {
        self.layer(limiter.layer())
    }

    #[cfg(feature = "circuit-breaker")]
    fn circuit_breaker<C>(
        self,
        breaker: &crate::circuit_breaker::CircuitBreaker<C>,
    ) -> ServiceBuilder<Stack<crate::circuit_breaker::CircuitBreakerLayer<C>, L>> {
        self.layer(breaker.layer())
    }

    #[cfg(feature = "hedge")]
    fn hedge(
        self,
        hedge: &crate::hedge::Hedge,
    ) -> ServiceBuilder<Stack<crate::hedge::HedgeLayer, L>> {
        self.layer(hedge.layer())
    }

    #[cfg(feature = "fallback")]
    fn fallback<F, C>(
        self,
        fallback: &crate::fallback::Fallback<F, C>,
    ) -> ServiceBuilder<Stack<crate::fallback::FallbackLayer<F, C>, L>> {
        self.layer(fallback.layer())
    }
}
