//! The events of the retry pattern.

use crate::Name;
use crate::event::PatternEvent;
use std::time::Duration;

/// Something that happened in a retry.
///
/// Every variant carries the retry's [`name`](super::RetryBuilder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt's outcome is retried: the next attempt starts after `delay`.
    Retrying {
        /// The retry's name.
        name: Name,
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
        /// The retry's name.
        name: Name,
        /// Attempts made, the first included.
        attempts: u32,
        /// Why it stopped.
        reason: GiveUpReason,
    },
}

impl Event {
    /// The name of the retry the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Retrying { name, .. } | Event::GaveUp { name, .. } => name,
        }
    }
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

impl RetryReason {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"error"`,
    /// `"response"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Response => "response",
        }
    }
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
    /// A short snake-case name, as in `tracing` fields and metric labels: `"attempts"`,
    /// `"time_up"`, `"budget"`, `"not_retryable"`, `"no_request"`, `"circuit_open"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Attempts => "attempts",
            Self::TimeUp => "time_up",
            Self::Budget => "budget",
            Self::NotRetryable => "not_retryable",
            Self::NoRequest => "no_request",
            Self::CircuitOpen => "circuit_open",
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    const ALL: [GiveUpReason; 6] = [
        Self::Attempts,
        Self::TimeUp,
        Self::Budget,
        Self::NotRetryable,
        Self::NoRequest,
        Self::CircuitOpen,
    ];
}

/// The metric handles of one retry (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    retries: [metrics::Counter; 2],
    give_ups: [metrics::Counter; 6],
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::Retrying {
                name,
                attempt,
                delay,
                reason,
                hinted,
            } => tracing::info!(
                target: "bulwark::retry",
                name = name.as_str(),
                attempt,
                delay_s = delay.as_secs_f64(),
                reason = reason.as_str(),
                hinted,
                "retrying"
            ),
            Event::GaveUp {
                name,
                attempts,
                reason,
            } => tracing::warn!(
                target: "bulwark::retry",
                name = name.as_str(),
                attempts,
                reason = reason.as_str(),
                "gave up"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::counter;
        Instruments {
            retries: [RetryReason::Error, RetryReason::Response].map(|reason| {
                counter(
                    "bulwark.retry.retries",
                    "Attempts after the first, by what made the previous outcome retryable",
                    name,
                    &[("reason", reason.as_str())],
                )
            }),
            give_ups: GiveUpReason::ALL.map(|reason| {
                counter(
                    "bulwark.retry.give_ups",
                    "Calls that stopped retrying and returned a failed outcome, by reason",
                    name,
                    &[("reason", reason.as_str())],
                )
            }),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Retrying { reason, .. } => {
                i.retries[usize::from(*reason == RetryReason::Response)].increment(1);
            }
            Event::GaveUp { reason, .. } => {
                let index = GiveUpReason::ALL
                    .iter()
                    .position(|r| r == reason)
                    .unwrap_or(0);
                i.give_ups[index].increment(1);
            }
        }
    }
}
