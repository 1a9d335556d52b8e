//! Resuming a saga from its log: check the log against the definition, rebuild the outputs and
//! each step's status, and decide which way the saga goes on.

use super::engine::{Engine, status};
use super::outcome::Cause;
use super::policy::Resume;
use super::recovery_error::RecoveryError;
use super::replay::{Phase, Progress, Replay};
use super::run::Definition;
use super::store::SagaId;
use std::any::Any;
use std::sync::atomic::Ordering;

/// Which way a run goes from where it starts.
pub(crate) enum Plan {
    /// Run the stages from this one on (0 for a fresh run).
    Forward(usize),
    /// Undo what may have taken effect; `turn`: log the turn (not yet in the log).
    Compensate { cause: Cause, turn: bool },
}

/// A log checked against its definition: each step's status, attempts and output, and the plan.
pub(crate) struct Restored {
    status: Vec<u8>,
    attempts: Vec<u32>,
    outputs: Vec<Option<Box<dyn Any + Send + Sync>>>,
    plan: Plan,
}

/// Checks `replay` (the log of saga `id`) against `def` and rebuilds the run's state.
///
/// Fails, without touching anything, if the log names a step the definition does not have
/// at that position, if a logged output no longer deserializes, or if the saga has finished.
pub(crate) fn restore<I>(
    def: &Definition<I>,
    id: &SagaId,
    replay: &Replay,
) -> Result<Restored, RecoveryError> {
    let mismatch = |reason: String| RecoveryError::Mismatch {
        id: id.clone(),
        definition: def.name,
        version: def.version,
        reason,
    };
    let n = def.steps.len();
    let mut restored = Restored {
        status: vec![status::NOT_STARTED; n],
        attempts: vec![0; n],
        outputs: (0..n).map(|_| None).collect(),
        plan: Plan::Forward(0),
    };
    for (&index, record) in &replay.steps {
        let i = index as usize;
        let Some(step) = def.steps.get(i) else {
            return Err(mismatch(format!(
                "the log has a step #{index}, the definition {n} steps"
            )));
        };
        if step.name != record.name {
            return Err(mismatch(format!(
                "step #{index} is `{}` in the log, `{}` in the definition",
                record.name, step.name
            )));
        }
        let maybe = record.may_have_taken_effect;
        restored.attempts[i] = record.attempts;
        restored.status[i] = match record.action {
            Progress::Completed => status::COMPLETED,
            Progress::InFlight => status::FAILED_MAYBE,
            Progress::Retrying if maybe => status::WAITING_MAYBE,
            Progress::Retrying => status::WAITING,
            _ if maybe => status::FAILED_MAYBE,
            _ => status::FAILED,
        };
        match record.compensation {
            Progress::Completed => restored.status[i] = status::UNDONE,
            Progress::InFlight if step.on_resume == Resume::Park => {
                restored.status[i] = status::UNDO_IN_DOUBT;
                restored.attempts[i] = record.compensation_attempts;
            }
            _ => {}
        }
        if let (Progress::Completed, Some(json)) = (record.action, &record.output) {
            let output = (step.restore)(json.clone()).map_err(|source| RecoveryError::Output {
                id: id.clone(),
                step: step.name,
                source,
            })?;
            restored.outputs[i] = Some(output);
        }
    }
    restored.plan = match replay.phase {
        Phase::Forward => forward(def, replay, &restored.status),
        Phase::Compensating => Plan::Compensate {
            cause: Cause::Recovered(
                replay
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the saga was compensating".to_owned()),
            ),
            turn: false,
        },
        phase @ (Phase::Finished(_) | Phase::Resolved) => {
            return Err(RecoveryError::Finished {
                id: id.clone(),
                phase,
            });
        }
    };
    Ok(restored)
}

/// A saga going forward resumes at its first stage not completed, unless a step there failed
/// for good or was in flight and may not run again: then it turns back.
fn forward<I>(def: &Definition<I>, replay: &Replay, status: &[u8]) -> Plan {
    for (stage, &(start, end)) in def.stages.iter().enumerate() {
        if (start..end).all(|i| status[i as usize] == status::COMPLETED) {
            continue;
        }
        for index in start..end {
            let Some(record) = replay.steps.get(&index) else {
                continue;
            };
            let step = &def.steps[index as usize];
            let why = match record.action {
                Progress::Failed => format!("step `{}` had failed", step.name),
                Progress::InFlight if step.on_resume != Resume::Rerun => format!(
                    "step `{}` was in flight when the process stopped, and is not to be run twice",
                    step.name
                ),
                _ => continue,
            };
            let cause = Cause::Recovered(why);
            return Plan::Compensate { cause, turn: true };
        }
        return Plan::Forward(stage);
    }
    Plan::Forward(def.stages.len())
}

impl<I: Send + Sync + 'static> Engine<'_, I> {
    /// Loads a restored state into this run; returns which way it goes.
    pub(crate) fn restore(&self, restored: Restored) -> Plan {
        let outputs = &self.run.outputs.slots;
        for (i, output) in restored.outputs.into_iter().enumerate() {
            self.status[i].store(restored.status[i], Ordering::Relaxed);
            self.attempts[i].store(restored.attempts[i], Ordering::Relaxed);
            if let (Some(output), Some(slot)) = (output, outputs.get(i)) {
                let _ = slot.set(output);
            }
        }
        restored.plan
    }
}
