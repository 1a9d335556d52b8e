//! What a circuit breaker reports: its [`Event`]s to listeners, and its [`Metrics`] snapshot.

use super::State;
use crate::Name;
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
///
/// Every variant carries the breaker's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The circuit moved from one state to another.
    StateChanged {
        /// The breaker's name.
        name: Name,
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
        /// Why.
        reason: OpenReason,
    },
    /// A call was rejected without running.
    Rejected {
        /// The breaker's name.
        name: Name,
        /// The state that rejected it.
        state: State,
        /// When the circuit may admit calls again, as in [`CircuitOpen::retry_after`](super::CircuitOpen::retry_after).
        retry_after: Duration,
    },
    /// A call completed (or was dropped) and was classified.
    Recorded {
        /// The breaker's name.
        name: Name,
        /// How it was classified; a dropped call is `Ignored`, or `Failure` under
        /// [`DroppedCall::Failure`](super::DroppedCall::Failure).
        outcome: Verdict,
        /// Whether it was slower than the slow-call threshold.
        slow: bool,
    },
}

impl Event {
    /// The name of the breaker the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::StateChanged { name, .. }
            | Event::Rejected { name, .. }
            | Event::Recorded { name, .. } => name,
        }
    }
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

impl OpenReason {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"failure_rate"`,
    /// `"slow_call_rate"`, `"consecutive_failures"`, `"open_duration_elapsed"`,
    /// `"probes_succeeded"`, `"probes_failed"`, `"half_open_timed_out"`, `"manual"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            OpenReason::FailureRate { .. } => "failure_rate",
            OpenReason::SlowCallRate { .. } => "slow_call_rate",
            OpenReason::ConsecutiveFailures { .. } => "consecutive_failures",
            OpenReason::OpenDurationElapsed => "open_duration_elapsed",
            OpenReason::ProbesSucceeded => "probes_succeeded",
            OpenReason::ProbesFailed { .. } => "probes_failed",
            OpenReason::HalfOpenTimedOut => "half_open_timed_out",
            OpenReason::Manual => "manual",
        }
    }
}

/// The metric handles of one breaker (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    calls: [metrics::Counter; 3],
    slow_calls: metrics::Counter,
    rejections: [metrics::Counter; 3],
    pub(crate) state: crate::instrument::OneHot<6>,
    name: Name,
}

#[cfg(feature = "metrics")]
fn verdict_index(verdict: Verdict) -> usize {
    match verdict {
        Verdict::Success => 0,
        Verdict::Failure => 1,
        Verdict::Ignored => 2,
    }
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::circuit_breaker";
        match self {
            Event::StateChanged {
                name,
                from,
                to,
                reason,
            } => {
                let (name, from, to, reason_str) =
                    (name.as_str(), from.as_str(), to.as_str(), reason.as_str());
                match *reason {
                    OpenReason::FailureRate { rate } => tracing::warn!(
                        target: T, name, from, to, reason = reason_str, failure_rate = rate,
                        "circuit state changed"
                    ),
                    OpenReason::SlowCallRate { rate } => tracing::warn!(
                        target: T, name, from, to, reason = reason_str, slow_call_rate = rate,
                        "circuit state changed"
                    ),
                    OpenReason::ConsecutiveFailures { count } => tracing::warn!(
                        target: T, name, from, to, reason = reason_str, consecutive_failures = count,
                        "circuit state changed"
                    ),
                    OpenReason::ProbesFailed { failures, slow } => tracing::warn!(
                        target: T, name, from, to, reason = reason_str, probes_failed = failures,
                        probes_slow = slow, "circuit state changed"
                    ),
                    _ => tracing::warn!(
                        target: T, name, from, to, reason = reason_str, "circuit state changed"
                    ),
                }
            }
            Event::Rejected {
                name,
                state,
                retry_after,
            } => tracing::debug!(
                target: T,
                name = name.as_str(),
                state = state.as_str(),
                retry_after_s = retry_after.as_secs_f64(),
                "call rejected"
            ),
            Event::Recorded {
                name,
                outcome,
                slow,
            } => tracing::trace!(
                target: T,
                name = name.as_str(),
                outcome = outcome.as_str(),
                slow,
                "call recorded"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::{OneHot, counter};
        const CALLS: &str = "bulwark.circuit_breaker.calls";
        const CALLS_HELP: &str = "Calls the breaker let through and recorded, by outcome";
        const REJ: &str = "bulwark.circuit_breaker.rejections";
        const REJ_HELP: &str =
            "Calls the breaker rejected without running them, by the state that rejected them";
        let instruments = Instruments {
            calls: ["success", "failure", "ignored"]
                .map(|outcome| counter(CALLS, CALLS_HELP, name, &[("outcome", outcome)])),
            slow_calls: counter(
                "bulwark.circuit_breaker.slow_calls",
                "Recorded calls slower than the slow-call threshold",
                name,
                &[],
            ),
            rejections: ["open", "half_open", "forced_open"]
                .map(|reason| counter(REJ, REJ_HELP, name, &[("reason", reason)])),
            state: OneHot::new(
                "bulwark.circuit_breaker.state",
                "1 for the breaker's current state, 0 for the others",
                name,
                "state",
                State::ALL.map(State::as_str),
                Vec::new(),
            ),
            name: *name,
        };
        instruments.state.set(State::Closed.index());
        instruments
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Recorded { outcome, slow, .. } => {
                i.calls[verdict_index(*outcome)].increment(1);
                if *slow {
                    i.slow_calls.increment(1);
                }
            }
            Event::Rejected { state, .. } => {
                let index = match state {
                    State::HalfOpen => 1,
                    State::ForcedOpen => 2,
                    _ => 0,
                };
                i.rejections[index].increment(1);
            }
            Event::StateChanged { from, to, .. } => {
                i.state.set(to.index());
                // Transitions are rare: their counter is looked up when one happens.
                crate::instrument::counter(
                    "bulwark.circuit_breaker.transitions",
                    "State transitions of the breaker, by the state left and the state entered",
                    &i.name,
                    &[("from", from.as_str()), ("to", to.as_str())],
                )
                .increment(1);
            }
        }
    }
}
