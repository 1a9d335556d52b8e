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

/// Reads from an outcome how long to wait before the next attempt (an HTTP `Retry-After`, say),
/// and whether it is an open circuit's rejection. See
/// [`RetryBuilder::retry_after`](super::RetryBuilder::retry_after).
///
/// A hint replaces the backoff for that wait: `Some(Duration::ZERO)` means "try again now",
/// `Some(Duration::MAX)` means that waiting will not help, so the call gives up
/// ([`GiveUpReason::NotRetryable`](super::GiveUpReason::NotRetryable)), and `None` means no
/// hint (the backoff decides).
///
/// Implemented by [`DefaultHint`], by [`HintOr`] and by closures
/// `Fn(&Result<T, E>) -> Option<Duration>` (which see no open circuit).
pub trait RetryAfter<T, E> {
    /// The delay the outcome asks for, used instead of the backoff; `None` to use the backoff.
    fn retry_after(&self, outcome: &Result<T, E>) -> Option<Duration>;

    /// When the outcome is a circuit breaker's rejection, the time until the circuit may admit
    /// calls again, as [`CircuitOpen::retry_after`](crate::circuit_breaker::CircuitOpen::retry_after)
    /// gives it (zero for a half-open circuit with every probe slot taken, `Duration::MAX` for a
    /// circuit forced open); `None` for any other outcome. The retry then fails fast unless
    /// [`wait_for_open_circuit`](super::RetryBuilder::wait_for_open_circuit) says otherwise.
    ///
    /// The default says `None`; [`DefaultHint`] recognises bulwark's own rejections.
    fn open_circuit(&self, outcome: &Result<T, E>) -> Option<Duration> {
        let _ = outcome;
        None
    }
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

/// The default hint: no delay of its own, and it recognises the rejections of a circuit breaker.
///
/// With the `circuit-breaker` feature, an outcome whose error is an open circuit's rejection is
/// reported by [`open_circuit`](RetryAfter::open_circuit), so that the retry fails fast (or, with
/// [`wait_for_open_circuit`](super::RetryBuilder::wait_for_open_circuit), waits until the circuit
/// may admit calls). It recognises, through `&dyn Any` (hence `E: 'static`):
///
/// - a [`CircuitOpen`](crate::circuit_breaker::CircuitOpen) as the error itself;
/// - a `CircuitOpen` inside a [`BoxError`](crate::BoxError), or anywhere in its `source()` chain
///   (the tower door);
/// - the [`Error::CircuitOpen`](crate::Error::CircuitOpen) of the standalone
///   [`CircuitBreaker::run`](crate::circuit_breaker::CircuitBreaker::run) or of a
///   [`Pipeline`](crate::pipeline::Pipeline), for any `E`: this generic type is registered by
///   the breaker and the pipeline when they reject a call, which is the only way an error of
///   theirs comes to hold a rejection (short of building one by hand).
///
/// Any other outcome has no hint, and the backoff decides.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultHint;

impl<T, E: 'static> RetryAfter<T, E> for DefaultHint {
    #[inline]
    fn retry_after(&self, _: &Result<T, E>) -> Option<Duration> {
        None
    }

    #[inline]
    fn open_circuit(&self, outcome: &Result<T, E>) -> Option<Duration> {
        match outcome {
            Ok(_) => None,
            Err(e) => open_circuit_in(e),
        }
    }
}

/// The wait of an open circuit's rejection, if `error` is one or holds one.
#[cfg_attr(not(feature = "circuit-breaker"), allow(unused_variables))]
fn open_circuit_in(error: &dyn Any) -> Option<Duration> {
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
            return None;
        }
        if let Some(open) = crate::circuit_breaker::open_types::open_in(error) {
            return Some(open.retry_after());
        }
    }
    None
}

/// A user hint, then [`DefaultHint`] when the user hint has none; open circuits as the
/// [`DefaultHint`] sees them. Made by
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

    #[inline]
    fn open_circuit(&self, outcome: &Result<T, E>) -> Option<Duration> {
        DefaultHint.open_circuit(outcome)
    }
}

impl<F> fmt::Debug for HintOr<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HintOr")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::HintOr;

    #[test]
    fn hint_or_debug_names_the_hint_type() {
        fn no_hint(_: &Result<(), ()>) -> Option<std::time::Duration> {
            None
        }
        let debug = format!("{:?}", HintOr::new(no_hint));
        assert!(
            debug.starts_with("HintOr(\"") && debug.contains("no_hint"),
            "{debug}"
        );
    }
}
