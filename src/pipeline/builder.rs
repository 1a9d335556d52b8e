//! Building a pipeline.

use super::handle::{Parts, Timeouts};
use super::hint::PipelineHint;
use super::{NoFallback, Pipeline};
use crate::backoff::Backoff;
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::DefaultClassifier;
use crate::retry::{DefaultHint, OnError, Retry, RetryBuilder};
use crate::{ConfigError, Name};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Pipeline`]; see [`Pipeline::builder`].
///
/// ```
/// use std::time::Duration;
/// use bulwark::bulkhead::Bulkhead;
/// use bulwark::circuit_breaker::CircuitBreaker;
/// use bulwark::pipeline::Pipeline;
/// use bulwark::retry::Retry;
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let pipeline = Pipeline::builder()
///     .name("payments")
///     .total_timeout(Duration::from_secs(2))
///     .retry(Retry::builder().max_attempts(3).build()?)
///     .circuit_breaker(CircuitBreaker::builder().build()?)
///     .bulkhead(Bulkhead::builder().max_concurrent(16).build()?)
///     .attempt_timeout(Duration::from_millis(500))
///     .build()?;
/// assert_eq!(pipeline.name(), "payments");
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct PipelineBuilder<
    C = DefaultClassifier,
    B = Backoff,
    P = OnError,
    H = DefaultHint,
    Fb = NoFallback,
> {
    total: Option<Duration>,
    retry: Option<Retry<B, P, H>>,
    breaker: Option<CircuitBreaker<C>>,
    bulkhead: Option<Bulkhead>,
    attempt: Option<Duration>,
    name: Option<Name>,
    fallback: Fb,
}

impl PipelineBuilder {
    pub(super) fn new() -> Self {
        Self {
            total: None,
            retry: None,
            breaker: None,
            bulkhead: None,
            attempt: None,
            name: None,
            fallback: NoFallback,
        }
    }
}

impl<C, B, P, H, Fb> PipelineBuilder<C, B, P, H, Fb> {
    /// Bounds the whole call, retries and backoff sleeps included.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total = Some(timeout);
        self
    }

    /// Retries attempts with this handle (its budget is shared with every other user of it).
    pub fn retry<B2, P2, H2>(self, retry: Retry<B2, P2, H2>) -> PipelineBuilder<C, B2, P2, H2, Fb> {
        PipelineBuilder {
            total: self.total,
            retry: Some(retry),
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            attempt: self.attempt,
            name: self.name,
            fallback: self.fallback,
        }
    }

    /// Changes some settings of the retry already set (attempts, backoff, time limit, ...), keeping
    /// the rest: its predicate, its hint, its budget and its listeners. For a preset such as
    /// [`Pipeline::http`](super::Pipeline::http), whose retry policy reads status codes:
    ///
    /// ```
    /// # #[cfg(feature = "http")]
    /// # fn main() -> Result<(), bulwark::ConfigError> {
    /// use std::time::Duration;
    /// use bulwark::backoff::Backoff;
    /// use bulwark::pipeline::Pipeline;
    ///
    /// let search = Pipeline::http()?
    ///     .tune_retry(|retry| {
    ///         retry
    ///             .max_attempts(5)
    ///             .stop_retrying_after(Duration::from_secs(3))
    ///     })?
    ///     .build()?;
    /// # let _ = search;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "http"))]
    /// # fn main() {}
    /// ```
    ///
    /// Fails without a retry, or if the changed settings are invalid.
    pub fn tune_retry(
        mut self,
        tune: impl FnOnce(RetryBuilder<B, P, H>) -> RetryBuilder<B, P, H>,
    ) -> Result<Self, ConfigError>
    where
        B: Clone,
        P: Clone,
        H: Clone,
    {
        let Some(retry) = &self.retry else {
            return Err(ConfigError::new(
                "pipeline",
                "retry",
                "there is no retry to tune: set one with `.retry(..)`",
            ));
        };
        self.retry = Some(tune(RetryBuilder::from_retry(retry)).build()?);
        Ok(self)
    }

    /// Guards attempts with this breaker (the same circuit as every other user of the handle).
    pub fn circuit_breaker<C2>(
        self,
        breaker: CircuitBreaker<C2>,
    ) -> PipelineBuilder<C2, B, P, H, Fb> {
        PipelineBuilder {
            total: self.total,
            retry: self.retry,
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            attempt: self.attempt,
            name: self.name,
            fallback: self.fallback,
        }
    }

    /// Bounds attempts in flight (and waiting) with this bulkhead.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Names the pipeline (`"payments"`); default `"pipeline"`. Its own timeouts are named after
    /// it, `"payments.total_timeout"` and `"payments.attempt_timeout"`, in their events, `tracing`
    /// fields, metric labels and [`Elapsed`](crate::timeout::Elapsed) errors. The retry, breaker
    /// and bulkhead handed to the builder keep the names they were built with (name them
    /// `"payments"` too, so every series of one dependency shares its `name` label).
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the chosen outcomes of every call with `fallback`'s value, last, outside
    /// everything else: after the retries and the total timeout, so it sees the outcome the
    /// caller would have seen (see [`fallback`](crate::fallback) for which outcomes are chosen,
    /// and for what a panicking fallback does). A pipeline without one pays nothing for it.
    #[cfg(feature = "fallback")]
    pub fn fallback<F, FC>(
        self,
        fallback: crate::fallback::Fallback<F, FC>,
    ) -> PipelineBuilder<C, B, P, H, crate::fallback::Fallback<F, FC>> {
        PipelineBuilder {
            total: self.total,
            retry: self.retry,
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            attempt: self.attempt,
            name: self.name,
            fallback,
        }
    }

    /// Bounds each attempt.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt = Some(timeout);
        self
    }

    /// Checks the settings and builds the pipeline.
    ///
    /// An attempt timeout must be shorter than the total timeout (otherwise no retry ever gets
    /// time to run), and neither may be zero.
    pub fn build(self) -> Result<Pipeline<C, B, P, H, Fb>, ConfigError>
    where
        B: Clone,
        P: Clone,
        H: Clone,
    {
        let zero = |field| ConfigError::new("pipeline", field, "must be greater than zero");
        if self.total == Some(Duration::ZERO) {
            return Err(zero("total_timeout"));
        }
        if self.attempt == Some(Duration::ZERO) {
            return Err(zero("attempt_timeout"));
        }
        if let (Some(total), Some(attempt)) = (self.total, self.attempt)
            && attempt >= total
        {
            return Err(ConfigError::new(
                "pipeline",
                "attempt_timeout",
                "must be shorter than total_timeout, or retries never get time to run",
            ));
        }
        Ok(Pipeline {
            parts: Arc::new(Parts {
                total: self.total,
                retry: self.retry.map(|r| r.map_hint(PipelineHint::new)),
                breaker: self.breaker,
                bulkhead: self.bulkhead,
                attempt: self.attempt,
                timeouts: Timeouts::new(self.name),
                fallback: self.fallback,
            }),
        })
    }
}

impl<C, B, P, H, Fb> fmt::Debug for PipelineBuilder<C, B, P, H, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("total_timeout", &self.total)
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .field("attempt_timeout", &self.attempt)
            .field("fallback", &std::any::type_name::<Fb>())
            .finish()
    }
}
