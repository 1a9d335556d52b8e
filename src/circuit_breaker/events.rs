//! What a circuit breaker reports to its listeners.

use super::State;
use crate::classify::Verdict;
use crate::event::PatternEvent;
use std::time::Duration;

/// Something that happened in a circuit breaker; see
/// [`Builder::on_event`](super::Builder::on_event).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The circuit moved from one state to another.
    StateChanged {
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
        /// Why.
        reason: OpenReason,
    },
    /// A call was rejected without running.
    Rejected {
        /// The state that rejected it.
        state: State,
        /// When the circuit may admit calls again, as in [`CircuitOpen::retry_after`](super::CircuitOpen::retry_after).
        retry_after: Duration,
    },
    /// A call completed (or was dropped) and was classified.
    Recorded {
        /// How it was classified; a dropped call is `Ignored`, or `Failure` under
        /// [`DroppedCall::Failure`](super::DroppedCall::Failure).
        outcome: Verdict,
        /// Whether it was slower than the slow-call threshold.
        slow: bool,
    },
}

/// Why the circuit changed state.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum OpenReason {
    /// The failure rate in the window reached the threshold.
    FailureRate {
        /// The failure rate, in [0, 1].
        rate: f64,
    },
    /// The slow-call rate in the window reached the threshold.
    SlowCallRate {
        /// The slow-call rate, in [0, 1].
        rate: f64,
    },
    /// That many failures came in a row.
    ConsecutiveFailures {
        /// How many.
        count: u32,
    },
    /// The open duration passed and a call arrived: the circuit half-opened.
    OpenDurationElapsed,
    /// Enough half-open probes completed under the thresholds: the circuit closed.
    ProbesSucceeded,
    /// Half-open probes failed (or were slow) at or above the threshold: the circuit re-opened.
    ProbesFailed {
        /// Failed probes.
        failures: u32,
        /// Slow probes.
        slow: u32,
    },
    /// The circuit stayed half-open longer than the maximum wait: it re-opened.
    HalfOpenTimedOut,
    /// `reset`, `force_open`, `disable` or `metrics_only` was called.
    Manual,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::StateChanged { from, to, reason } => tracing::warn!(
                target: "bulwark::circuit_breaker",
                from = ?from,
                to = ?to,
                reason = ?reason,
                "circuit state changed"
            ),
            Event::Rejected { state, retry_after } => tracing::debug!(
                target: "bulwark::circuit_breaker",
                state = ?state,
                retry_after_ms = retry_after.as_millis() as u64,
                "call rejected"
            ),
            Event::Recorded { outcome, slow } => tracing::trace!(
                target: "bulwark::circuit_breaker",
                outcome = ?outcome,
                slow,
                "call recorded"
            ),
        }
    }
}
