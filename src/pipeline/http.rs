//! A ready-made pipeline for an outbound HTTP dependency (feature `http`).

use super::{Pipeline, PipelineBuilder};
use crate::backoff::{Backoff, Jitter};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::{Classify, Verdict};
use crate::retry::{DefaultHint, Retry, RetryAfter, ShouldRetry};
use http::{Response, StatusCode, header::RETRY_AFTER};
use std::time::{Duration, SystemTime};

/// The builder [`Pipeline::http`] returns.
pub type HttpPipelineBuilder =
    PipelineBuilder<HttpClassifier, Backoff, HttpRetryPolicy, RetryAfterHeader>;

/// Whether a status says "try again later": 408, 429, 500, 502, 503 or 504.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The delay a response's `Retry-After` header asks for: delay-seconds (`120`), or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, read by the `httpdate` crate) less the wall clock now (zero
/// for a date past). `None` without the header or when it is neither.
pub fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The retry hint of [`Pipeline::http`]: a response's `Retry-After` header (see [`retry_after`]),
/// and bulwark's own open-circuit rejections as [`DefaultHint`] sees them. Works with both doors:
/// the outcome's error may be a [`bulwark::Error`](crate::Error) or a `BoxError`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryAfterHeader;

impl<B, X: 'static> RetryAfter<Response<B>, X> for RetryAfterHeader {
    fn retry_after(&self, outcome: &Result<Response<B>, X>) -> Option<Duration> {
        match outcome {
            Ok(response) => retry_after(response),
            Err(_) => DefaultHint.retry_after(outcome),
        }
    }

    fn open_circuit(&self, outcome: &Result<Response<B>, X>) -> Option<Duration> {
        DefaultHint.open_circuit(outcome)
    }
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

impl<B, X> ShouldRetry<Response<B>, X> for HttpRetryPolicy {
    fn should_retry(&self, outcome: &Result<Response<B>, X>) -> bool {
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
    /// | retry | 3 attempts, exponential backoff from 2 s (capped at 30 s) with full jitter, [`HttpRetryPolicy`], a `Retry-After` header honoured ([`RetryAfterHeader`]), the default retry budget; an open circuit ends the call at once |
    /// | circuit breaker | 30 s time window, opens at a 10 % failure rate once it holds 100 calls, open 5 s, [`HttpClassifier`] |
    /// | bulkhead | 1000 calls at once, no queue |
    /// | attempt timeout | 10 s |
    ///
    /// Any builder method replaces its part (`.attempt_timeout(..)`, `.bulkhead(..)`, ...);
    /// [`tune_retry`](PipelineBuilder::tune_retry) changes the retry's attempts, backoff or time
    /// limit and keeps its status-code policy and `Retry-After` hint. Each call builds fresh
    /// handles: keep the built pipeline and clone it, so every caller shares one breaker, bulkhead
    /// and budget. It works through both doors: [`run`](Pipeline::run) around a closure, and
    /// [`layer`](Pipeline::layer) over a tower HTTP client (whose errors are `BoxError`s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bulwark::pipeline::Pipeline;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), bulwark::BoxError> {
    /// let payments = Pipeline::http()?
    ///     .attempt_timeout(Duration::from_secs(2))
    ///     .tune_retry(|retry| retry.max_attempts(2))?
    ///     .build()?;
    /// let reply = payments
    ///     .run(|| async { Ok::<_, std::io::Error>(http::Response::new(String::from("charged"))) })
    ///     .await?;
    /// assert_eq!(reply.into_body(), "charged");
    /// # Ok(())
    /// # }
    /// ```
    pub fn http() -> Result<HttpPipelineBuilder, crate::ConfigError> {
        let backoff = Backoff::exponential(Duration::from_secs(2))
            .max_delay(Duration::from_secs(30))
            .jitter(Jitter::Full)
            .build()?;
        let retry = Retry::builder()
            .max_attempts(3)
            .backoff(backoff)
            .retry_if(HttpRetryPolicy)
            .hint(RetryAfterHeader)
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
