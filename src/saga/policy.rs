//! How often a step (or a compensation) is tried, and how long to wait in between.

use std::time::Duration;

/// The attempts a step's action, or a compensation, gets, and the pauses between them.
///
/// A step's action is tried once by default ([`RetryPolicy::never`]); a compensation gets
/// [`RetryPolicy::compensation_default`] unless the saga or the step says otherwise, because a
/// compensation that gives up parks the saga for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    delays: Delays,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delays {
    Fixed(Duration),
    Exponential { base: Duration, max: Duration },
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const fn never() -> Self {
        Self::fixed(1, Duration::ZERO)
    }

    /// Up to `attempts` attempts in all, `delay` apart.
    pub const fn fixed(attempts: u32, delay: Duration) -> Self {
        Self {
            attempts,
            delays: Delays::Fixed(delay),
        }
    }

    /// Up to `attempts` attempts in all; the pause after attempt `n` is `base * 2^(n-1)`,
    /// at most `max`.
    pub const fn exponential(attempts: u32, base: Duration, max: Duration) -> Self {
        Self {
            attempts,
            delays: Delays::Exponential { base, max },
        }
    }

    /// The default for compensations: 5 attempts, 100 ms doubling up to 5 s.
    pub const fn compensation_default() -> Self {
        Self::exponential(5, Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The number of attempts in all (the first one included).
    pub const fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// The pause after failed attempt `attempt` (counting from 1), before the next one.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        match self.delays {
            Delays::Fixed(d) => d,
            Delays::Exponential { base, max } => {
                let shift = attempt.saturating_sub(1).min(31);
                base.checked_mul(1 << shift).map_or(max, |d| d.min(max))
            }
        }
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
