//! What a keyed policy asks of the pattern it keys: [`Policy`] (a fresh instance, whether an
//! instance may go), [`RunPolicy`] (the standalone door) and [`ServicePolicy`] (the tower door),
//! implemented for every call-level handle.

use crate::BoxError;
use std::future::Future;
use tower::Service;

mod sealed {
    #[allow(unreachable_pub, missing_debug_implementations)]
    pub trait Sealed {}
}

/// A call-level pattern that can be keyed: [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker),
/// [`RateLimiter`](crate::rate_limit::RateLimiter), [`Bulkhead`](crate::bulkhead::Bulkhead),
/// [`Timeout`](crate::timeout::Timeout), [`Retry`](crate::retry::Retry) and
/// [`Pipeline`](crate::pipeline::Pipeline).
///
/// The trait is sealed: what "fresh" and "may be evicted" mean is each pattern's own business
/// (see the [module docs](super#what-each-pattern-keeps-per-key)).
pub trait Policy: sealed::Sealed + Clone + Send + Sync + 'static {
    /// What a key keeps beside the handle for the tower door (a breaker's service reference,
    /// so keyed calls share one reference count per key and allocate nothing).
    #[doc(hidden)]
    type Door: Send + Sync + 'static;

    /// A new instance with this one's settings, name and listeners, and fresh state.
    fn fresh(&self) -> Self;

    /// Whether replacing this instance by a fresh one now loses no protection: a breaker not
    /// open (or past its open duration), a limiter whose burst is full again, a bulkhead with
    /// no call in flight or queued.
    fn is_evictable(&self) -> bool;

    /// Why this instance cannot be keyed, if it cannot (a rate limiter in Redis).
    #[doc(hidden)]
    fn unkeyable(&self) -> Option<&'static str> {
        None
    }

    #[doc(hidden)]
    fn door(&self) -> Self::Door;
}

/// A [`Policy`] that runs calls returning `Result<T, E>` standalone, with the crate's flat
/// [`Error`](crate::Error): the door of [`Keyed::run`](super::Keyed::run).
pub trait RunPolicy<T, E>: Policy {
    /// Runs the call `f` makes through this instance, as the pattern's own `run` does (`f` is
    /// called again for each retry of a [`Retry`](crate::retry::Retry) or a
    /// [`Pipeline`](crate::pipeline::Pipeline)).
    fn run_call<F, Fut>(&self, f: F) -> impl Future<Output = Result<T, crate::Error<E>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>;
}

/// A [`Policy`] that drives a tower call: the door of [`KeyedService`](super::KeyedService).
pub trait ServicePolicy<S: Service<Req>, Req>: Policy {
    /// The pattern's own response future.
    type Future: Future<Output = Result<S::Response, BoxError>>;

    /// Calls `ready` (a service the caller made ready) with `req` through this instance, as the
    /// pattern's own service does when it is called.
    #[doc(hidden)]
    fn call(&self, door: &Self::Door, ready: S, req: Req) -> Self::Future;
}

#[cfg(feature = "circuit-breaker")]
mod breaker {
    use super::*;
    use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerService, ResponseFuture};
    use crate::classify::Classify;

    impl<C> sealed::Sealed for CircuitBreaker<C> {}

    impl<C: Clone + Send + Sync + 'static> Policy for CircuitBreaker<C> {
        type Door = CircuitBreakerService<(), C>;

        fn fresh(&self) -> Self {
            CircuitBreaker::fresh(self)
        }

        fn is_evictable(&self) -> bool {
            self.core().is_evictable()
        }

        fn door(&self) -> Self::Door {
            CircuitBreakerService::door(self.clone())
        }
    }

    impl<C, T, E> RunPolicy<T, E> for CircuitBreaker<C>
    where
        C: Classify<T, E> + Clone + Send + Sync + 'static,
        E: 'static,
    {
        async fn run_call<F, Fut>(&self, f: F) -> Result<T, crate::Error<E>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            self.run(f).await
        }
    }

    impl<C, S, Req> ServicePolicy<S, Req> for CircuitBreaker<C>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
        C: Classify<S::Response, S::Error> + Clone + Send + Sync + 'static,
    {
        type Future = ResponseFuture<S::Future, C>;

        #[inline]
        fn call(&self, door: &Self::Door, ready: S, req: Req) -> Self::Future {
            door.call_for(ready, req)
        }
    }
}

#[cfg(feature = "rate-limit")]
mod rate_limit {
    use super::*;
    use crate::rate_limit::{RateLimitService, RateLimiter};

    impl sealed::Sealed for RateLimiter {}

    impl Policy for RateLimiter {
        type Door = ();

        fn fresh(&self) -> Self {
            // A limiter in Redis is refused by `Keyed`'s `build()` (see `unkeyable`).
            RateLimiter::fresh(self).unwrap_or_else(|| self.clone())
        }

        fn is_evictable(&self) -> bool {
            self.is_full()
        }

        fn unkeyable(&self) -> Option<&'static str> {
            RateLimiter::fresh(self).is_none().then_some(
                "a rate limiter whose state is in Redis cannot be keyed: every key would share \
                 its one Redis key",
            )
        }

        fn door(&self) {}
    }

    impl<T, E> RunPolicy<T, E> for RateLimiter {
        fn run_call<F, Fut>(&self, f: F) -> impl Future<Output = Result<T, crate::Error<E>>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            self.run(f)
        }
    }

    impl<S, Req> ServicePolicy<S, Req> for RateLimiter
    where
        S: Service<Req> + Clone,
        S::Error: Into<BoxError>,
    {
        type Future = <RateLimitService<S> as Service<Req>>::Future;

        #[inline]
        fn call(&self, _: &Self::Door, ready: S, req: Req) -> Self::Future {
            // `poll_ready` of this service is the inner one's, which the caller made ready.
            RateLimitService::new(ready, self.clone()).call(req)
        }
    }
}

#[cfg(feature = "bulkhead")]
mod bulkhead {
    use super::*;
    use crate::bulkhead::{Bulkhead, BulkheadService};
    use tower::Layer;

    impl sealed::Sealed for Bulkhead {}

    impl Policy for Bulkhead {
        type Door = ();

        /// The template's settings, name, listeners and adaptive algorithm (at its initial
        /// limit), nothing in flight.
        fn fresh(&self) -> Self {
            Bulkhead::fresh(self)
        }

        fn is_evictable(&self) -> bool {
            let m = self.metrics();
            m.in_flight == 0 && m.queued == 0
        }

        fn door(&self) {}
    }

    impl<T, E> RunPolicy<T, E> for Bulkhead {
        fn run_call<F, Fut>(&self, f: F) -> impl Future<Output = Result<T, crate::Error<E>>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            self.run(f)
        }
    }

    impl<S, Req> ServicePolicy<S, Req> for Bulkhead
    where
        S: Service<Req> + Clone,
        S::Error: Into<BoxError>,
    {
        type Future = <BulkheadService<S> as Service<Req>>::Future;

        #[inline]
        fn call(&self, _: &Self::Door, ready: S, req: Req) -> Self::Future {
            // Default mode: a slot is taken in `call` (or waited for in the future).
            self.layer().layer(ready).call(req)
        }
    }
}

#[cfg(feature = "timeout")]
mod timeout {
    use super::*;
    use crate::timeout::{Timeout, TimeoutService};

    impl sealed::Sealed for Timeout {}

    impl Policy for Timeout {
        type Door = ();

        /// A timeout keeps no state: the same one.
        fn fresh(&self) -> Self {
            self.clone()
        }

        fn is_evictable(&self) -> bool {
            true
        }

        fn door(&self) {}
    }

    impl<T, E> RunPolicy<T, E> for Timeout {
        async fn run_call<F, Fut>(&self, mut f: F) -> Result<T, crate::Error<E>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            match self.run(f()).await {
                Ok(out) => out.map_err(crate::Error::Inner),
                Err(elapsed) => Err(elapsed.into()),
            }
        }
    }

    impl<S, Req> ServicePolicy<S, Req> for Timeout
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        type Future = <TimeoutService<S> as Service<Req>>::Future;

        #[inline]
        fn call(&self, _: &Self::Door, ready: S, req: Req) -> Self::Future {
            TimeoutService::new(ready, self.layer()).call(req)
        }
    }
}

#[cfg(feature = "retry")]
mod retry {
    use super::*;
    use crate::backoff::MakeDelays;
    use crate::retry::{CloneRequest, Retry, RetryAfter, RetryService, ShouldRetry};

    impl<B, P, H> sealed::Sealed for Retry<B, P, H> {}

    impl<B, P, H> Policy for Retry<B, P, H>
    where
        B: Clone + Send + Sync + 'static,
        P: Clone + Send + Sync + 'static,
        H: Clone + Send + Sync + 'static,
    {
        type Door = RetryService<(), B, P, H, CloneRequest>;

        /// The same settings and budget (a budget per key would multiply the floor of retries
        /// by the number of keys).
        fn fresh(&self) -> Self {
            Retry::fresh(self)
        }

        fn is_evictable(&self) -> bool {
            true
        }

        /// One lane: a lane per stripe for each of many keys would cost more memory than
        /// their calls save.
        fn door(&self) -> Self::Door {
            RetryService::new((), self.clone(), CloneRequest, 1)
        }
    }

    impl<B, P, H, T, E> RunPolicy<T, E> for Retry<B, P, H>
    where
        B: MakeDelays + Clone + Send + Sync + 'static,
        P: ShouldRetry<T, E> + Clone + Send + Sync + 'static,
        H: RetryAfter<T, E> + Clone + Send + Sync + 'static,
    {
        async fn run_call<F, Fut>(&self, mut f: F) -> Result<T, crate::Error<E>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            self.run(move |_| f()).await.map_err(crate::Error::Inner)
        }
    }

    impl<B, P, H, S, Req> ServicePolicy<S, Req> for Retry<B, P, H>
    where
        S: Service<Req> + Clone,
        S::Error: Into<BoxError>,
        Req: Clone,
        B: MakeDelays + Clone + Send + Sync + 'static,
        P: ShouldRetry<S::Response, BoxError> + Clone + Send + Sync + 'static,
        H: RetryAfter<S::Response, BoxError> + Clone + Send + Sync + 'static,
    {
        type Future = <RetryService<S, B, P, H, CloneRequest> as Service<Req>>::Future;

        #[inline]
        fn call(&self, door: &Self::Door, ready: S, req: Req) -> Self::Future {
            door.call_for(ready, req)
        }
    }
}

#[cfg(all(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead"
))]
mod pipeline {
    use super::*;
    use crate::backoff::MakeDelays;
    use crate::classify::Classify;
    use crate::pipeline::{NoFallback, Pipeline, PipelineService, ResponseFuture};
    use crate::retry::{CloneRequest, RetryAfter, ShouldRetry};

    impl<C, B, P, H> sealed::Sealed for Pipeline<C, B, P, H> {}

    impl<C, B, P, H> Policy for Pipeline<C, B, P, H>
    where
        C: Clone + Send + Sync + 'static,
        B: Send + Sync + 'static,
        P: Send + Sync + 'static,
        H: Send + Sync + 'static,
    {
        type Door = PipelineService<(), C, B, P, H, CloneRequest>;

        /// A fresh breaker and bulkhead; the same retry and budget.
        fn fresh(&self) -> Self {
            Pipeline::fresh(self, <crate::bulkhead::Bulkhead as Policy>::fresh)
        }

        fn is_evictable(&self) -> bool {
            self.circuit_breaker().is_none_or(Policy::is_evictable)
                && self.bulkhead().is_none_or(Policy::is_evictable)
        }

        /// One lane: a lane per stripe for each of many keys would cost more memory than
        /// their calls save.
        fn door(&self) -> Self::Door {
            PipelineService::new((), self.parts(), CloneRequest, 1)
        }
    }

    impl<C, B, P, H, T, E> RunPolicy<T, E> for Pipeline<C, B, P, H>
    where
        C: Classify<T, E> + Clone + Send + Sync + 'static,
        E: 'static,
        B: MakeDelays + Send + Sync + 'static,
        P: ShouldRetry<T, crate::Error<E>> + Send + Sync + 'static,
        H: RetryAfter<T, crate::Error<E>> + Send + Sync + 'static,
    {
        async fn run_call<F, Fut>(&self, f: F) -> Result<T, crate::Error<E>>
        where
            F: FnMut() -> Fut,
            Fut: Future<Output = Result<T, E>>,
        {
            self.run(f).await
        }
    }

    impl<C, B, P, H, S, Req> ServicePolicy<S, Req> for Pipeline<C, B, P, H>
    where
        C: Clone + Send + Sync + 'static,
        B: MakeDelays + Send + Sync + 'static,
        P: Send + Sync + 'static,
        H: Send + Sync + 'static,
        S: Service<Req>,
        S::Error: Into<BoxError>,
        Req: Clone,
        C: Classify<S::Response, S::Error>,
        P: ShouldRetry<S::Response, BoxError>,
        H: RetryAfter<S::Response, BoxError>,
    {
        type Future = ResponseFuture<S, Req, CloneRequest, C, B, P, H, NoFallback>;

        #[inline]
        fn call(&self, door: &Self::Door, ready: S, req: Req) -> Self::Future {
            door.call_for(ready, req)
        }
    }
}
