//! How often a step (or a compensation) is tried, and how long to wait in between.

use crate::backoff::{Backoff, Delays, Jitter};
use std::time::Duration;

/// The attempts a step's action, or a compensation, gets, and the pauses between them (a
/// [`Backoff`], from the shared [`backoff`](crate::backoff) module).
///
/// A step's action is tried once by default ([`RetryPolicy::never`]); a compensation gets
/// [`RetryPolicy::compensation_default`] unless the saga or the step says otherwise, because a
/// compensation that gives up parks the saga for an operator.
///
/// ```
/// use std::time::Duration;
/// use bulwark::backoff::Backoff;
/// use bulwark::saga::RetryPolicy;
///
/// # fn main() -> Result<(), bulwark::backoff::InvalidBackoff> {
/// let backoff = Backoff::exponential(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(2))
///     .build()?;
/// let policy = RetryPolicy::new(4, backoff);
/// assert_eq!(policy.max_attempts(), 4);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
}

impl RetryPolicy {
    /// Up to `attempts` attempts in all (the first one included), pausing between them for
    /// the delays of `backoff`, in order.
    pub const fn new(attempts: u32, backoff: Backoff) -> Self {
        Self { attempts, backoff }
    }

    /// One attempt, no retry.
    pub fn never() -> Self {
        Self::fixed(1, Duration::ZERO)
    }

    /// Up to `attempts` attempts in all, exactly `delay` apart (no jitter).
    pub fn fixed(attempts: u32, delay: Duration) -> Self {
        // A constant backoff without jitter or cap is always valid.
        let backoff = Backoff::constant(delay).jitter(Jitter::None).build();
        Self::new(attempts, backoff.unwrap_or_default())
    }

    /// The default for compensations: 5 attempts, pausing 100 ms doubling up to 5 s, with full
    /// jitter.
    pub fn compensation_default() -> Self {
        let backoff = Backoff::exponential(Duration::from_millis(100))
            .max_delay(Duration::from_secs(5))
            .build();
        Self::new(5, backoff.unwrap_or_default())
    }

    /// The number of attempts in all (the first one included).
    pub const fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// The backoff between attempts.
    pub const fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// The pauses of one step's (or compensation's) retries, in order.
    pub(crate) fn delays(&self) -> Delays {
        self.backoff.delays()
    }

    /// Why this policy is invalid, if it is.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        (self.attempts == 0).then_some("at least one attempt is needed")
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::never()
    }
}
