//! The saga's events, their `tracing` mapping, the spans per saga and per step, and the
//! counts of a definition's runs.

use super::store::{OutcomeKind, SagaId};
use crate::Name;
use crate::event::PatternEvent;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Something that happened in a saga; register listeners with
/// [`SagaBuilder::on_event`](super::SagaBuilder::on_event).
///
/// Every variant carries the saga definition's name (also returned by [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A run started.
    SagaStarted {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
    },
    /// A run started by an earlier process was resumed from its log.
    SagaResumed {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
    },
    /// An attempt of a step's action started.
    StepStarted {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step.
        step: &'static str,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step's action completed.
    StepCompleted {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step.
        step: &'static str,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// An attempt of a step's action failed.
    StepFailed {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step.
        step: &'static str,
        /// The attempt that failed.
        attempt: u32,
        /// The error and its sources, as text.
        error: String,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// A step's action will be tried again after `delay`.
    StepRetrying {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step.
        step: &'static str,
        /// The attempt about to be made.
        attempt: u32,
        /// The pause before it.
        delay: Duration,
    },
    /// The saga stopped going forward and starts undoing.
    Compensating {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// Why, as text.
        reason: String,
    },
    /// An attempt of a compensation started.
    CompensationStarted {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step being undone.
        step: &'static str,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A compensation completed.
    CompensationCompleted {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step that was undone.
        step: &'static str,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// An attempt of a compensation failed.
    CompensationFailed {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// The step being undone.
        step: &'static str,
        /// The attempt that failed.
        attempt: u32,
        /// The error and its sources, as text.
        error: String,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// The run stopped short of an outcome: its store could not record a transition, or it
    /// lost its claim ([`SagaError::Unsettled`](super::SagaError::Unsettled)). Recovery finishes it.
    Unsettled {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// What was not recorded and why, as text.
        error: String,
    },
    /// The run ended, and its outcome is in the log.
    Finished {
        /// The saga definition's name.
        name: Name,
        /// The run's id.
        saga: SagaId,
        /// How it ended.
        outcome: OutcomeKind,
    },
    /// The run renewed its claim on the saga (its lease), every third of the store's claim
    /// time to live.
    ClaimRenewed {
        /// The saga definition's name.
        name: Name,
        /// The saga.
        saga: SagaId,
    },
    /// The run found its claim on the saga gone: it stalled past the claim's expiry and another
    /// run took the saga over. It stops, running nothing more
    /// ([`SagaError::Unsettled`](super::SagaError::Unsettled)).
    ClaimLost {
        /// The saga definition's name.
        name: Name,
        /// The saga.
        saga: SagaId,
    },
}

impl Event {
    /// The name of the saga definition the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::SagaStarted { name, .. }
            | Event::SagaResumed { name, .. }
            | Event::StepStarted { name, .. }
            | Event::StepCompleted { name, .. }
            | Event::StepFailed { name, .. }
            | Event::StepRetrying { name, .. }
            | Event::Compensating { name, .. }
            | Event::CompensationStarted { name, .. }
            | Event::CompensationCompleted { name, .. }
            | Event::CompensationFailed { name, .. }
            | Event::Unsettled { name, .. }
            | Event::Finished { name, .. }
            | Event::ClaimRenewed { name, .. }
            | Event::ClaimLost { name, .. } => name,
        }
    }
}

impl OutcomeKind {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"completed"`,
    /// `"compensated"`, `"parked"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            OutcomeKind::Completed => "completed",
            OutcomeKind::Compensated => "compensated",
            OutcomeKind::Parked => "parked",
        }
    }
}

/// The metric handles of one saga definition (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    /// Started, resumed.
    starts: [metrics::Counter; 2],
    /// Completed, compensated, parked, unsettled.
    runs: [metrics::Counter; 4],
    /// Completed, failed.
    steps: [metrics::Counter; 2],
    /// Completed, failed.
    compensations: [metrics::Counter; 2],
    claims_lost: metrics::Counter,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::saga";
        let name = self.name().as_str();
        match self {
            Event::SagaStarted { saga, .. } => {
                tracing::info!(target: T, name, saga = saga.as_str(), "saga started")
            }
            Event::SagaResumed { saga, .. } => {
                tracing::info!(target: T, name, saga = saga.as_str(), "saga resumed")
            }
            Event::StepStarted {
                saga,
                step,
                attempt,
                ..
            } => {
                tracing::debug!(target: T, name, saga = saga.as_str(), step, attempt, "step started")
            }
            Event::StepCompleted {
                saga,
                step,
                attempt,
                ..
            } => {
                tracing::debug!(target: T, name, saga = saga.as_str(), step, attempt, "step completed")
            }
            Event::StepFailed {
                saga,
                step,
                attempt,
                error,
                will_retry,
                ..
            } => {
                tracing::warn!(target: T, name, saga = saga.as_str(), step, attempt, error, will_retry, "step failed")
            }
            Event::StepRetrying {
                saga,
                step,
                attempt,
                delay,
                ..
            } => {
                let delay_s = delay.as_secs_f64();
                tracing::info!(target: T, name, saga = saga.as_str(), step, attempt, delay_s, "step retrying")
            }
            Event::Compensating { saga, reason, .. } => {
                tracing::warn!(target: T, name, saga = saga.as_str(), reason, "saga compensating")
            }
            Event::CompensationStarted {
                saga,
                step,
                attempt,
                ..
            } => {
                tracing::debug!(target: T, name, saga = saga.as_str(), step, attempt, "compensation started")
            }
            Event::CompensationCompleted {
                saga,
                step,
                attempt,
                ..
            } => {
                tracing::info!(target: T, name, saga = saga.as_str(), step, attempt, "compensation completed")
            }
            Event::CompensationFailed {
                saga,
                step,
                attempt,
                error,
                will_retry,
                ..
            } => {
                tracing::error!(target: T, name, saga = saga.as_str(), step, attempt, error, will_retry, "compensation failed")
            }
            Event::Unsettled { saga, error, .. } => {
                tracing::error!(target: T, name, saga = saga.as_str(), error, "saga unsettled")
            }
            Event::Finished { saga, outcome, .. } => {
                let outcome = outcome.as_str();
                tracing::info!(target: T, name, saga = saga.as_str(), outcome, "saga finished")
            }
            Event::ClaimRenewed { saga, .. } => {
                tracing::trace!(target: T, name, saga = saga.as_str(), "saga claim renewed")
            }
            Event::ClaimLost { saga, .. } => {
                tracing::warn!(target: T, name, saga = saga.as_str(), "saga claim lost to another run")
            }
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::counter;
        Instruments {
            starts: ["started", "resumed"].map(|how| {
                counter(
                    "bulwark.saga.starts",
                    "Saga runs started, or resumed from their log",
                    name,
                    &[("how", how)],
                )
            }),
            runs: ["completed", "compensated", "parked", "unsettled"].map(|outcome| {
                counter(
                    "bulwark.saga.runs",
                    "Saga runs that ended, by outcome (parked runs wait for an operator)",
                    name,
                    &[("outcome", outcome)],
                )
            }),
            steps: ["completed", "failed"].map(|outcome| {
                counter(
                    "bulwark.saga.steps",
                    "Attempts of steps' actions that ended, by outcome",
                    name,
                    &[("outcome", outcome)],
                )
            }),
            compensations: ["completed", "failed"].map(|outcome| {
                counter(
                    "bulwark.saga.compensations",
                    "Attempts of compensations that ended, by outcome",
                    name,
                    &[("outcome", outcome)],
                )
            }),
            claims_lost: counter(
                "bulwark.saga.claims_lost",
                "Runs that found their claim on the saga taken by another run",
                name,
                &[],
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::SagaStarted { .. } => i.starts[0].increment(1),
            Event::SagaResumed { .. } => i.starts[1].increment(1),
            Event::StepCompleted { .. } => i.steps[0].increment(1),
            Event::StepFailed { .. } => i.steps[1].increment(1),
            Event::CompensationCompleted { .. } => i.compensations[0].increment(1),
            Event::CompensationFailed { .. } => i.compensations[1].increment(1),
            Event::Finished { outcome, .. } => {
                let index = match outcome {
                    OutcomeKind::Completed => 0,
                    OutcomeKind::Compensated => 1,
                    OutcomeKind::Parked => 2,
                };
                i.runs[index].increment(1);
            }
            Event::Unsettled { .. } => i.runs[3].increment(1),
            Event::ClaimLost { .. } => i.claims_lost.increment(1),
            Event::StepStarted { .. }
            | Event::StepRetrying { .. }
            | Event::Compensating { .. }
            | Event::CompensationStarted { .. }
            | Event::ClaimRenewed { .. } => {}
        }
    }
}

/// Runs `future` inside a `saga` span (with the `tracing` feature; as is without it).
#[cfg(feature = "tracing")]
pub(crate) fn in_saga_span<F: Future>(
    future: F,
    definition: &'static str,
    id: &SagaId,
) -> impl Future<Output = F::Output> + use<F> {
    use tracing::Instrument;
    future.instrument(tracing::info_span!(target: "bulwark::saga", "saga", definition, id = %id))
}

/// Runs `future` inside a `saga` span (with the `tracing` feature; as is without it).
#[cfg(not(feature = "tracing"))]
pub(crate) fn in_saga_span<F: Future>(future: F, _: &'static str, _: &SagaId) -> F {
    future
}

/// Runs one attempt inside a `step` (or `compensation`) span, with the `tracing` feature.
#[cfg(feature = "tracing")]
pub(crate) fn in_step_span<F: Future>(
    future: F,
    step: &'static str,
    attempt: u32,
    compensation: bool,
) -> impl Future<Output = F::Output> + use<F> {
    use tracing::Instrument;
    let span = if compensation {
        tracing::info_span!(target: "bulwark::saga", "compensation", step, attempt)
    } else {
        tracing::info_span!(target: "bulwark::saga", "step", step, attempt)
    };
    future.instrument(span)
}

/// Runs one attempt inside a `step` (or `compensation`) span, with the `tracing` feature.
#[cfg(not(feature = "tracing"))]
pub(crate) fn in_step_span<F: Future>(future: F, _: &'static str, _: u32, _: bool) -> F {
    future
}

// Counts of a saga definition's runs.

/// A snapshot of a saga definition's runs, from [`Saga::metrics`](super::Saga::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Runs whose start was recorded.
    pub started: u64,
    /// Runs started and not finished yet (going forward or compensating).
    pub in_flight: u64,
    /// Runs that completed.
    pub completed: u64,
    /// Runs that were compensated.
    pub compensated: u64,
    /// Runs that were parked.
    pub parked: u64,
    /// Runs that stopped short of an outcome ([`SagaError::Unsettled`](super::SagaError::Unsettled)):
    /// their sagas wait for recovery.
    pub unsettled: u64,
    /// Renewals of runs' claims (leases) that the store granted.
    pub renewals: u64,
    /// Runs that found their claim taken by another run (they stopped, unsettled).
    pub claims_lost: u64,
}

/// The live counters behind [`Metrics`]: one atomic add per run start and per run end.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    compensated: AtomicU64,
    parked: AtomicU64,
    unsettled: AtomicU64,
    renewals: AtomicU64,
    claims_lost: AtomicU64,
}

impl Counters {
    pub(crate) fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self, kind: OutcomeKind) {
        let counter = match kind {
            OutcomeKind::Completed => &self.completed,
            OutcomeKind::Compensated => &self.compensated,
            OutcomeKind::Parked => &self.parked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unsettled(&self) {
        self.unsettled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn renewed(&self) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn claim_lost(&self) {
        self.claims_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        // Ends are read before starts, so `in_flight` never underflows.
        let completed = self.completed.load(Ordering::Relaxed);
        let compensated = self.compensated.load(Ordering::Relaxed);
        let parked = self.parked.load(Ordering::Relaxed);
        let unsettled = self.unsettled.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        let ended = completed + compensated + parked + unsettled;
        Metrics {
            started,
            in_flight: started.saturating_sub(ended),
            completed,
            compensated,
            parked,
            unsettled,
            renewals: self.renewals.load(Ordering::Relaxed),
            claims_lost: self.claims_lost.load(Ordering::Relaxed),
        }
    }
}
