//! Which outcomes are retried, and server hints for how long to wait.

use std::any::Any;
use std::fmt;
use std::time::Duration;

/// Decides whether an outcome is retried. See [`RetryBuilder::retry_if`](super::RetryBuilder::retry_if).
///
/// Implemented by [`OnError`] (the default) and by closures `Fn(&Result<T, E>) -> bool`.
pub trait ShouldRetry<T, E> {
    /// Whether another attempt should follow `outcome` (limits permitting).
    fn should_retry(&self, outcome: &Result<T, E>) -> bool;
}

/// The default predicate: every error is retried, every response is final.
#[derive(Clone, Copy, Debug, Default)]
pub struct OnError;

impl<T, E> ShouldRetry<T, E> for OnError {
    #[inline]
    fn should_retry(&self, outcome: &Result<T, E>) -> bool {
        outcome.is_err()
    }
}

impl<F, T, E> ShouldRetry<T, E> for F
where
    F: Fn(&Result<T, E>) -> bool,
{
    #[inline]
    fn should_retry(&self, outcome: &Result<T, E>) -> bool {
        self(outcome)
    }
}

/// Retries what a [`Classify`](crate::classify::Classify) calls a failure: share one classifier
/// between a circuit breaker and a retry. Made by
/// [`RetryBuilder::retry_failures`](super::RetryBuilder::retry_failures).
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryFailures<C>(pub C);

impl<C, T, E> ShouldRetry<T, E> for RetryFailures<C>
where
    C: crate::classify::Classify<T, E>,
{
    #[inline]
    fn should_retry(&self, outcome: &Result<T, E>) -> bool {
        self.0.classify(outcome).is_failure()
    }
}

/// Reads from an outcome how long to wait before the next attempt (an HTTP `Retry-After`, say).
/// See [`RetryBuilder::retry_after`](super::RetryBuilder::retry_after).
///
/// A hint replaces the backoff for that wait, except two values: zero says nothing (the backoff
/// decides), and `Duration::MAX` says that waiting will not help, so the call gives up
/// ([`GiveUpReason::NotRetryable`](super::GiveUpReason::NotRetryable)).
///
/// Implemented by [`DefaultHint`], by [`HintOr`] and by closures
/// `Fn(&Result<T, E>) -> Option<Duration>`.
pub trait RetryAfter<T, E> {
    /// The delay the outcome asks for, used instead of the backoff; `None` to use the backoff.
    fn retry_after(&self, outcome: &Result<T, E>) -> Option<Duration>;
}

impl<F, T, E> RetryAfter<T, E> for F
where
    F: Fn(&Result<T, E>) -> Option<Duration>,
{
    #[inline]
    fn retry_after(&self, outcome: &Result<T, E>) -> Option<Duration> {
        self(outcome)
    }
}

/// The default hint: the errors of other bulwark patterns that know when to try again.
///
/// With the `circuit-breaker` feature, an open circuit's error (a
/// [`CircuitOpen`](crate::circuit_breaker::CircuitOpen) as the error itself, inside a
/// [`BoxError`](crate::BoxError), or anywhere in a `BoxError`'s `source()` chain) asks to wait
/// its [`retry_after`](crate::circuit_breaker::CircuitOpen::retry_after): until the circuit may
/// admit calls again, so an open circuit is not hammered blindly, and the call gives up at once if
/// that is past the deadline. A circuit forced open says `Duration::MAX` (the call gives up), a
/// half-open circuit with every probe slot taken says zero (the backoff decides). Other outcomes
/// have no hint, and the backoff decides.
///
/// This covers the tower door (errors are `BoxError`s) and errors that are a `CircuitOpen`. Around
/// the standalone [`CircuitBreaker::run`](crate::circuit_breaker::CircuitBreaker::run), whose
/// error is a generic `circuit_breaker::Error<E>`, say it with a hint of your own:
///
/// ```
/// # #[cfg(feature = "circuit-breaker")] {
/// use bulwark::circuit_breaker::{CircuitOpen, Error};
/// use bulwark::retry::Retry;
///
/// let retry = Retry::builder()
///     .retry_after(|out: &Result<String, Error<std::io::Error>>| {
///         out.as_ref().err()?.as_open().map(CircuitOpen::retry_after)
///     })
///     .build();
/// # let _ = retry;
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultHint;

impl<T, E: 'static> RetryAfter<T, E> for DefaultHint {
    #[inline]
    fn retry_after(&self, outcome: &Result<T, E>) -> Option<Duration> {
        match outcome {
            Ok(_) => None,
            Err(e) => pattern_hint(e),
        }
    }
}

/// The hint of an error raised by another bulwark pattern, if it carries one.
#[cfg_attr(not(feature = "circuit-breaker"), allow(unused_variables))]
fn pattern_hint(error: &dyn Any) -> Option<Duration> {
    #[cfg(feature = "circuit-breaker")]
    {
        use crate::circuit_breaker::CircuitOpen;
        if let Some(open) = error.downcast_ref::<CircuitOpen>() {
            return Some(open.retry_after());
        }
        if let Some(boxed) = error.downcast_ref::<crate::BoxError>() {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(boxed.as_ref());
            while let Some(e) = cause {
                if let Some(open) = e.downcast_ref::<CircuitOpen>() {
                    return Some(open.retry_after());
                }
                cause = e.source();
            }
        }
    }
    None
}

/// A user hint, then [`DefaultHint`] when the user hint has none. Made by
/// [`RetryBuilder::retry_after`](super::RetryBuilder::retry_after).
#[derive(Clone, Copy)]
pub struct HintOr<F> {
    hint: F,
}

impl<F> HintOr<F> {
    pub(crate) const fn new(hint: F) -> Self {
        Self { hint }
    }
}

impl<F, T, E: 'static> RetryAfter<T, E> for HintOr<F>
where
    F: Fn(&Result<T, E>) -> Option<Duration>,
{
    #[inline]
    fn retry_after(&self, outcome: &Result<T, E>) -> Option<Duration> {
        (self.hint)(outcome).or_else(|| DefaultHint.retry_after(outcome))
    }
}

impl<F> fmt::Debug for HintOr<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HintOr")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}
