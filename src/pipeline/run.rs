//! Running a call through a pipeline.

use super::Pipeline;
use crate::Error;
use crate::backoff::MakeDelays;
use crate::bulkhead::BulkheadError;
use crate::circuit_breaker::{Admission, CircuitBreaker, CircuitOpen, State};
use crate::classify::{Classify, Outcome};
use crate::retry::{RetryAfter, ShouldRetry};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::time::Duration;

impl<C, B, P, H> Pipeline<C, B, P, H> {
    /// Runs the call `f` makes (once per attempt) through every part of the pipeline.
    ///
    /// `f` is called again for each retry. The result is the call's output, or the flat
    /// [`Error`] saying what stopped it.
    pub async fn run<F, Fut, T, E>(&self, mut f: F) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        B: MakeDelays,
        P: ShouldRetry<T, Error<E>>,
        H: RetryAfter<T, Error<E>>,
    {
        // The breaker decides before `f` is called: an open circuit never even builds the call.
        let mut admit_then_call = || {
            let admission = self.breaker.as_ref().map(CircuitBreaker::admit).transpose();
            admission.map(|admission| (admission, f()))
        };
        let retried = async {
            match &self.retry {
                Some(retry) => retry.run(|_| self.attempt(admit_then_call())).await,
                None => self.attempt(admit_then_call()).await,
            }
        };
        match &self.total {
            Some(total) => total.run(retried).await.unwrap_or_else(|e| Err(e.into())),
            None => retried.await,
        }
    }

    /// One admitted attempt: the bulkhead, then the attempt timeout, around `call`; its outcome
    /// recorded by the breaker that admitted it.
    async fn attempt<Fut, T, E>(
        &self,
        admitted: Result<(Option<Admission<'_>>, Fut), CircuitOpen>,
    ) -> Result<T, Error<E>>
    where
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        let (mut admission, call) = admitted?;
        if let Some(a) = &mut admission {
            a.begin();
        }
        let breaker = self.breaker.as_ref();
        // The attempt itself, classified for the breaker while its raw result is at hand.
        let timed = async move {
            let raw = match &self.attempt {
                Some(timeout) => match timeout.run(call).await {
                    Ok(raw) => raw,
                    Err(elapsed) => return (Err(elapsed.into()), Outcome::Failure),
                },
                None => call.await,
            };
            let outcome = breaker.map_or(Outcome::Ignored, |b| b.classifier().classify(&raw));
            (raw.map_err(Error::Inner), outcome)
        };
        let (result, outcome) = match &self.bulkhead {
            None => timed.await,
            Some(bulkhead) => match bulkhead
                .run(|| async { Ok::<_, Infallible>(timed.await) })
                .await
            {
                Ok(pair) => pair,
                Err(BulkheadError::Full(full)) => (Err(full.into()), Outcome::Ignored),
                Err(BulkheadError::Inner(never)) => match never {},
            },
        };
        if let Some(a) = &mut admission {
            a.finish(outcome);
        }
        result
    }
}

/// The retry hint inside a pipeline: an open circuit asks to wait until it may admit calls
/// again (a forced-open circuit asks to give up), then the retry's own hint.
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
        if let Err(Error::CircuitOpen(open)) = outcome {
            return Some(match open.state() {
                State::ForcedOpen => Duration::MAX,
                _ => open.retry_after(),
            });
        }
        self.inner.retry_after(outcome)
    }
}

impl<H> fmt::Debug for PipelineHint<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PipelineHint")
            .field(&std::any::type_name::<H>())
            .finish()
    }
}
