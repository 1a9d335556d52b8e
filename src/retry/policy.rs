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
/// With the `circuit-breaker` feature, an open circuit's error (a `circuit_breaker::CircuitOpen`,
/// as the error itself, inside a [`BoxError`](crate::BoxError), or anywhere in a `BoxError`'s
/// `source()` chain) asks to wait until the circuit may admit calls again, so an open circuit is
/// not hammered blindly. Other outcomes have no hint, and the backoff decides.
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
#[allow(unused_variables)]
fn pattern_hint(error: &dyn Any) -> Option<Duration> {
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
