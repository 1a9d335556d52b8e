//! What a circuit breaker reports: its [`Event`]s to listeners, and its [`Metrics`] snapshot.

use super::State;
use crate::classify::Verdict;
use crate::event::PatternEvent;
use std::time::Duration;

/// A snapshot of a breaker's state and window; see
/// [`CircuitBreaker::metrics`](super::CircuitBreaker::metrics).
///
/// `calls`, `failures`, `slow_calls` and the two rates describe the closed window: live while the
/// circuit is [`State::Closed`] or [`State::MetricsOnly`]; in every other state, the figures the
/// window held when the circuit left those states (for an open or half-open circuit, the window
/// that tripped it), unchanged until the circuit closes again with an empty window. The `probes_*`
/// fields describe the current half-open period, and are zero in every other state.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// The current state.
    pub state: State,
    /// Calls in the closed window (live, or as it was when the circuit left the closed state).
    pub calls: u32,
    /// Failed calls in the closed window.
    pub failures: u32,
    /// Slow calls in the closed window.
    pub slow_calls: u32,
    /// `failures / calls`, zero for an empty window.
    pub failure_rate: f64,
    /// `slow_calls / calls`, zero for an empty window.
    pub slow_call_rate: f64,
    /// Calls rejected since the breaker was built.
    pub rejected: u64,
    /// Half-open probes running now.
    pub probes_in_flight: u32,
    /// Half-open probes of the current period that completed and were counted (ignored and
    /// dropped probes are not).
    pub probes_completed: u32,
    /// Of those, the failed ones.
    pub probes_failed: u32,
    /// Of those, the slow ones.
    pub probes_slow: u32,
}

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
