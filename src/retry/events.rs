//! The events of the retry pattern.

use crate::event::PatternEvent;
use std::time::Duration;

/// Something that happened in a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt's outcome is retried: the next attempt starts after `delay`.
    Retrying {
        /// The number of the attempt that just ended (1 for the first).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// What made the outcome retryable.
        reason: RetryReason,
        /// Whether the delay came from a hint ([`RetryBuilder::retry_after`](super::RetryBuilder::retry_after), an open circuit)
        /// rather than from the backoff.
        hinted: bool,
    },
    /// A call stopped retrying and returned its last outcome.
    GaveUp {
        /// Attempts made, the first included.
        attempts: u32,
        /// Why it stopped.
        reason: GiveUpReason,
    },
}

/// What made an outcome retryable; see [`Event::Retrying`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// The attempt failed with an error the predicate retries.
    Error,
    /// The attempt returned a response the predicate retries (an HTTP 503, say).
    Response,
}

/// Why a call stopped retrying; see [`Event::GaveUp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The maximum number of attempts was reached, or a finite backoff ran out of delays.
    Attempts,
    /// The time set by [`stop_retrying_after`](super::RetryBuilder::stop_retrying_after) ran
    /// out: the next sleep would have ended at or past it, or it passed while waiting for the
    /// inner service to become ready.
    TimeUp,
    /// The retry budget was spent.
    Budget,
    /// The predicate does not retry this error.
    NotRetryable,
    /// No copy of the request could be had to send again (tower layer only).
    NoRequest,
    /// The attempt was rejected by an open circuit, and the retry does not wait for it: it was
    /// not told to ([`wait_for_open_circuit`](super::RetryBuilder::wait_for_open_circuit)), the
    /// circuit is forced open, or it stays open longer than the retry would wait.
    CircuitOpen,
}

impl GiveUpReason {
    /// A short lower-case name, as used in `tracing` events.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Attempts => "attempts",
            Self::TimeUp => "time up",
            Self::Budget => "budget",
            Self::NotRetryable => "not retryable",
            Self::NoRequest => "no request",
            Self::CircuitOpen => "circuit open",
        }
    }
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::Retrying {
                attempt,
                delay,
                reason,
                hinted,
            } => tracing::info!(
                target: "bulwark::retry",
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = ?reason,
                hinted,
                "retrying"
            ),
            Event::GaveUp { attempts, reason } => tracing::warn!(
                target: "bulwark::retry",
                attempts,
                reason = reason.as_str(),
                "gave up"
            ),
        }
    }
}
