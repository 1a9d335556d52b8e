//! The handle of the pipeline: its parts, and running a call through them.

use super::PipelineBuilder;
use super::attempt::PipelineHint;
use crate::Error;
use crate::backoff::{Backoff, MakeDelays};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::{Classify, DefaultClassifier};
use crate::retry::{DefaultHint, OnError, Retry, RetryAfter, ShouldRetry};
use crate::timeout::Timeout;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// Timeout, retry, circuit breaker and bulkhead around one call; see the [module docs](crate::pipeline).
///
/// Cheap to clone: every part is a shared handle.
pub struct Pipeline<C = DefaultClassifier, B = Backoff, P = OnError, H = DefaultHint> {
    pub(super) total: Option<Timeout>,
    pub(super) retry: Option<Retry<B, P, PipelineHint<H>>>,
    pub(super) breaker: Option<CircuitBreaker<C>>,
    pub(super) bulkhead: Option<Bulkhead>,
    pub(super) attempt: Option<Timeout>,
    pub(super) name: crate::Name,
}

impl Pipeline {
    /// A builder with no part set: add the parts you want, outermost first or in any order.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::new()
    }
}

impl<C, B, P, H> Pipeline<C, B, P, H> {
    /// The pipeline's [name](PipelineBuilder::name).
    pub fn name(&self) -> &crate::Name {
        &self.name
    }

    /// The circuit breaker, if the pipeline has one.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker<C>> {
        self.breaker.as_ref()
    }

    /// The bulkhead, if the pipeline has one.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.bulkhead.as_ref()
    }

    /// Runs the call `f` makes (once per attempt) through every part of the pipeline.
    ///
    /// `f` is called again for each retry, and only once the attempt has been admitted by the
    /// circuit breaker and has taken a bulkhead slot: an attempt that is rejected, or that waits
    /// in the bulkhead's queue, has not called `f` (yet). The result is the call's output, or the
    /// flat [`Error`] saying what stopped it.
    pub async fn run<F, Fut, T, E>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        E: 'static,
        B: MakeDelays,
        P: ShouldRetry<T, Error<E>>,
        H: RetryAfter<T, Error<E>>,
    {
        // The retry's closure makes each attempt's future, which calls `f` only once the
        // attempt is admitted: the futures share `f` through a lock, taken only for the moment
        // `f` is called (one attempt at a time: it is never contended).
        let f = Mutex::new(f);
        let call = || (f.lock().unwrap_or_else(PoisonError::into_inner))();
        let retried = async {
            match &self.retry {
                Some(retry) => retry.run(|_| self.attempt(call)).await,
                None => self.attempt(call).await,
            }
        };
        match &self.total {
            Some(total) => total.run(retried).await.unwrap_or_else(|e| Err(e.into())),
            None => retried.await,
        }
    }
}

impl<C, B, P, H> Clone for Pipeline<C, B, P, H> {
    fn clone(&self) -> Self {
        Self {
            total: self.total.clone(),
            retry: self.retry.clone(),
            breaker: self.breaker.clone(),
            bulkhead: self.bulkhead.clone(),
            attempt: self.attempt.clone(),
            name: self.name.clone(),
        }
    }
}

impl<C, B, P, H> fmt::Debug for Pipeline<C, B, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("total_timeout", &self.total.as_ref().map(Timeout::duration))
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .field(
                "attempt_timeout",
                &self.attempt.as_ref().map(Timeout::duration),
            )
            .finish()
    }
}
