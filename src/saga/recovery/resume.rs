//! Resuming a saga from its log: check the log against the definition, rebuild the outputs and
//! each step's status, and decide which way the saga goes on.

use super::recovery_error::RecoveryError;
use super::replay::{Phase, Progress, Replay};
use crate::saga::definition::{Definition, Resume};
use crate::saga::error::Cause;
use crate::saga::handle::{Run, Saga};
use crate::saga::run::drive::Start;
use crate::saga::run::restored::{Plan, Restored};
use crate::saga::run::status::Status;
use crate::saga::store::{Claim, SagaId};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
        status: vec![Status::NotStarted; n],
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
        // Every kind of progress named (no wildcard): a new one must be given its status here.
        restored.status[i] = match record.action {
            Progress::Completed => Status::Completed,
            // Whatever the record says, an attempt whose end is not logged may have taken effect.
            Progress::InFlight => Status::FailedMaybe,
            Progress::Retrying if maybe => Status::WaitingMaybe,
            Progress::Retrying => Status::Waiting,
            Progress::NotStarted | Progress::Failed if maybe => Status::FailedMaybe,
            Progress::NotStarted | Progress::Failed => Status::Failed,
        };
        match record.compensation {
            Progress::Completed => restored.status[i] = Status::Undone,
            Progress::InFlight if step.on_resume == Resume::Park => {
                restored.status[i] = Status::UndoInDoubt;
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
fn forward<I>(def: &Definition<I>, replay: &Replay, status: &[Status]) -> Plan {
    for (stage, &(start, end)) in def.stages.iter().enumerate() {
        if (start..end).all(|i| status[i as usize] == Status::Completed) {
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

impl<I> Saga<I>
where
    I: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Resumes saga `id` from its log, read back as `replay`, under `claim` (which the caller
    /// took on the saga before reading the log): for the [`Registry`](crate::saga::Registry).
    ///
    /// The returned run is detached (dropping it does not cancel the saga, which goes on as it
    /// would have in the process that started it) but can still be awaited for its outcome.
    pub(crate) fn resume(
        &self,
        id: SagaId,
        replay: &Replay,
        claim: Claim,
    ) -> Result<Run, RecoveryError> {
        let (input, restored) = self.restore(&id, replay)?;
        let mut run = self.spawn(id, Start::Resume(input, Box::new(restored), claim));
        run.keep_going();
        Ok(run)
    }

    /// The input and the run's state from the log, checked against this definition.
    pub(crate) fn restore(
        &self,
        id: &SagaId,
        replay: &Replay,
    ) -> Result<(I, Restored), RecoveryError> {
        let input = serde_json::from_value::<I>(replay.input.clone()).map_err(|source| {
            RecoveryError::Input {
                id: id.clone(),
                source,
            }
        })?;
        Ok((input, restore(&self.definition, id, replay)?))
    }
}
