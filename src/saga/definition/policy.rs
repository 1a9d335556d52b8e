//! How often a step (or a compensation) is tried, and how long to wait in between.

use crate::backoff::{Backoff, Delays, Jitter, Next, Tries};
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
/// # fn main() -> Result<(), bulwark::ConfigError> {
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

    /// The default for appends to the store ([`SagaBuilder::store_retry`](crate::saga::SagaBuilder::store_retry)):
    /// 3 attempts, pausing 10 ms then 20 ms, with full jitter: enough to ride out a lock held
    /// for a moment by another connection, short enough that a store that is down stops the
    /// run quickly.
    pub fn store_default() -> Self {
        let backoff = Backoff::exponential(Duration::from_millis(10))
            .max_delay(Duration::from_secs(1))
            .build();
        Self::new(3, backoff.unwrap_or_default())
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

    /// The attempts of one step, compensation or append under this policy: the attempt loop
    /// core the retry pattern drives too.
    pub(crate) const fn tries(&self) -> Tries<Delays> {
        Tries::start_until(self.attempts, None)
    }

    /// After a failed attempt that `tries` allows to follow: the wait before the next one, which
    /// is then counted as started. (The backoff's delays never run out, so the core never gives
    /// up here; if it did, the next attempt would start at once.)
    pub(crate) fn next_wait(&self, tries: &mut Tries<Delays>) -> Duration {
        let delay = match tries.next_delay(None, || self.delays()) {
            Next::RetryAfter(delay) => delay,
            Next::GiveUp(_) => Duration::ZERO,
        };
        tries.begin_next();
        delay
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

/// What recovery does with a step whose action or compensation was in flight when the run
/// stopped: its start is in the log and nothing after it, so it may or may not have taken
/// effect. Set with [`Step::on_resume`](crate::saga::Step::on_resume).
///
/// "In flight" is as the log tells it: an attempt whose process died, and also one that
/// completed but whose completion the store could not record (the run then stopped,
/// [`SagaError::Unsettled`](crate::saga::SagaError::Unsettled)). Only such an attempt is in question. A
/// step that was waiting between retries goes on retrying (it was going to run again anyway); an
/// action or compensation whose completion is in the log is never run again (an action's output
/// is in the log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resume {
    /// The action is not idempotent, the compensation is (undoing by the action's key, as
    /// compensations are meant to): an action in flight is not run again, the saga turns back
    /// and compensates it, as after a timeout (the compensation gets no output and undoes by
    /// the action's key, or finds nothing to undo); a compensation in flight is run again.
    /// The default.
    #[default]
    Compensate,
    /// The action and the compensation are idempotent by their keys (the services deduplicate):
    /// whichever was in flight runs again with the same key, the action with its retry policy
    /// afresh (a crash is not the step's failure), and the saga goes on.
    Rerun,
    /// Neither runs twice: an action in flight is compensated, as with `Compensate`, but a
    /// compensation in flight is not run again: the saga parks (the compensation's error is
    /// [`StepError::InDoubt`](crate::saga::StepError::InDoubt)) for an operator to check and then
    /// [retry](crate::saga::Registry::retry_compensation) or [resolve](crate::saga::Registry::mark_resolved).
    Park,
}
