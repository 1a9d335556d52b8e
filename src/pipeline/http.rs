//! A ready-made pipeline for an outbound HTTP dependency (feature `http`).

use super::{Pipeline, PipelineBuilder};
use crate::Error;
use crate::backoff::{Backoff, Jitter};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::{Classify, Verdict};
use crate::retry::{HintOr, Retry, ShouldRetry};
use http::{Response, StatusCode, header::RETRY_AFTER};
use std::time::Duration;

/// The hint of [`Pipeline::http`]: reads a `Retry-After` header from a response.
pub type RetryAfterHeader<B, E> = fn(&Result<Response<B>, Error<E>>) -> Option<Duration>;

/// The builder [`Pipeline::http`] returns.
pub type HttpPipelineBuilder<B, E> =
    PipelineBuilder<HttpClassifier, Backoff, HttpRetryPolicy, HintOr<RetryAfterHeader<B, E>>>;

/// Whether a status says "try again later": 408, 429, 500, 502, 503 or 504.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The delay a response's `Retry-After` header asks for, in its delay-seconds form. (The
/// HTTP-date form is not read: it needs a wall clock, which paused test time cannot drive.)
pub fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn retry_after_header<B, E>(outcome: &Result<Response<B>, Error<E>>) -> Option<Duration> {
    outcome.as_ref().ok().and_then(retry_after)
}

/// The breaker's view of an HTTP call: a transport error, a 5xx, a 408 or a 429 is a failure of
/// the dependency; every other response, 4xx included, shows a dependency that answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpClassifier;

impl<B, E> Classify<Response<B>, E> for HttpClassifier {
    fn classify(&self, result: &Result<Response<B>, E>) -> Verdict {
        match result {
            Ok(r) if r.status().is_server_error() || is_transient(r.status()) => Verdict::Failure,
            Ok(_) => Verdict::Success,
            Err(_) => Verdict::Failure,
        }
    }
}

/// The retry's view of an HTTP call: retry every error (transport, timeout, full bulkhead) and
/// every [transient](is_transient) status; never another response. An open circuit ends the call
/// at once whatever the predicate says, unless the retry was told to
/// [wait for it](crate::retry::RetryBuilder::wait_for_open_circuit).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpRetryPolicy;

impl<B, E> ShouldRetry<Response<B>, Error<E>> for HttpRetryPolicy {
    fn should_retry(&self, outcome: &Result<Response<B>, Error<E>>) -> bool {
        match outcome {
            Ok(r) => is_transient(r.status()),
            Err(_) => true,
        }
    }
}

impl Pipeline {
    /// A pipeline for an outbound HTTP dependency, with the defaults of .NET's standard
    /// resilience handler, as a builder to tune:
    ///
    /// | part | setting |
    /// |---|---|
    /// | total timeout | 30 s |
    /// | retry | 3 attempts, exponential backoff from 2 s (capped at 30 s) with full jitter, [`HttpRetryPolicy`], a `Retry-After` header honoured, the default retry budget; an open circuit ends the call at once |
    /// | circuit breaker | 30 s time window, opens at a 10 % failure rate once it holds 100 calls, open 5 s, [`HttpClassifier`] |
    /// | bulkhead | 1000 calls at once, no queue |
    /// | attempt timeout | 10 s |
    ///
    /// Any builder method replaces its part (`.attempt_timeout(..)`, `.bulkhead(..)`, ...). Each
    /// call builds fresh handles: keep the built pipeline and clone it, so every caller shares one
    /// breaker, bulkhead and budget.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bulwark::pipeline::Pipeline;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), bulwark::BoxError> {
    /// let payments = Pipeline::http::<String, std::io::Error>()?
    ///     .attempt_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// let reply = payments
    ///     .run(|| async { Ok(http::Response::new(String::from("charged"))) })
    ///     .await?;
    /// assert_eq!(reply.into_body(), "charged");
    /// # Ok(())
    /// # }
    /// ```
    pub fn http<B, E>() -> Result<HttpPipelineBuilder<B, E>, crate::ConfigError> {
        let backoff = Backoff::exponential(Duration::from_secs(2))
            .max_delay(Duration::from_secs(30))
            .jitter(Jitter::Full)
            .build()?;
        let hint: RetryAfterHeader<B, E> = retry_after_header::<B, E>;
        let retry = Retry::builder()
            .max_attempts(3)
            .backoff(backoff)
            .retry_if(HttpRetryPolicy)
            .retry_after(hint)
            .build()?;
        let breaker = CircuitBreaker::builder()
            .time_window(Duration::from_secs(30))
            .minimum_calls(100)
            .failure_rate_threshold(0.1)
            .open_duration(Duration::from_secs(5))
            .classifier(HttpClassifier)
            .build()?;
        let bulkhead = Bulkhead::builder()
            .max_concurrent(1000)
            .max_queued(0)
            .build()?;
        Ok(Pipeline::builder()
            .total_timeout(Duration::from_secs(30))
            .retry(retry)
            .circuit_breaker(breaker)
            .bulkhead(bulkhead)
            .attempt_timeout(Duration::from_secs(10)))
    }
}
