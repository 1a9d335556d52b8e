//! One attempt through the pipeline's breaker, bulkhead and attempt timeout, and the retry's
//! hint inside a pipeline.

use super::Pipeline;
use crate::Error;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::{Classify, Verdict};
use crate::retry::RetryAfter;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::time::Duration;

impl<C, B, P, H> Pipeline<C, B, P, H> {
    /// One attempt: the breaker admits it (synchronously: an open circuit never even gets to
    /// the bulkhead), the bulkhead gives it a slot, and only then is `f` called; the attempt
    /// timeout bounds the call, and the breaker records its outcome.
    pub(super) async fn attempt<F, Fut, T, E>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        E: 'static,
    {
        let breaker = self.breaker.as_ref();
        let mut admission = match breaker.map(CircuitBreaker::admit).transpose() {
            Ok(admission) => admission,
            Err(open) => {
                // So that a retry around this pipeline sees the rejection (its default hint).
                Error::<E>::register_open();
                return Err(open.into());
            }
        };
        if let Some(a) = &mut admission {
            a.begin();
        }
        // The call itself, classified for the breaker while its raw result is at hand.
        let timed = |call: Fut| async move {
            let raw = match &self.attempt {
                Some(timeout) => match timeout.run(call).await {
                    Ok(raw) => raw,
                    Err(elapsed) => return (Err(elapsed.into()), Verdict::Failure),
                },
                None => call.await,
            };
            let outcome = breaker.map_or(Verdict::Ignored, |b| b.classifier().classify(&raw));
            (raw.map_err(Error::Inner), outcome)
        };
        let (result, outcome) = match &self.bulkhead {
            None => timed(f()).await,
            Some(bulkhead) => match bulkhead
                .run(|| {
                    let call = f();
                    async { Ok::<_, Infallible>(timed(call).await) }
                })
                .await
            {
                Ok(pair) => pair,
                Err(Error::Inner(never)) => match never {},
                // A bulkhead alone only ever turns a call away as full.
                Err(Error::BulkheadFull(full)) => (Err(full.into()), Verdict::Ignored),
                Err(Error::CircuitOpen(open)) => (Err(open.into()), Verdict::Ignored),
                Err(Error::Timeout(elapsed)) => (Err(elapsed.into()), Verdict::Ignored),
                #[cfg(feature = "rate-limit")]
                Err(Error::RateLimited(limited)) => (Err(limited.into()), Verdict::Ignored),
            },
        };
        if let Some(a) = &mut admission {
            a.finish(outcome);
        }
        result
    }
}

/// The retry hint inside a pipeline: an [`Error::CircuitOpen`] is an open circuit whatever hint
/// the retry was built with (so the retry fails fast, or waits as its `wait_for_open_circuit`
/// allows); everything else is the retry's own hint.
#[derive(Clone, Copy)]
pub(crate) struct PipelineHint<H> {
    inner: H,
}

impl<H: Clone> PipelineHint<H> {
    pub(crate) fn new(inner: &H) -> Self {
        Self {
            inner: inner.clone(),
        }
    }
}

impl<T, E, H> RetryAfter<T, Error<E>> for PipelineHint<H>
where
    H: RetryAfter<T, Error<E>>,
{
    fn retry_after(&self, outcome: &Result<T, Error<E>>) -> Option<Duration> {
        self.inner.retry_after(outcome)
    }

    fn open_circuit(&self, outcome: &Result<T, Error<E>>) -> Option<Duration> {
        match outcome {
            Err(Error::CircuitOpen(open)) => Some(open.retry_after()),
            _ => self.inner.open_circuit(outcome),
        }
    }
}

impl<H> fmt::Debug for PipelineHint<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PipelineHint")
            .field(&std::any::type_name::<H>())
            .finish()
    }
}
