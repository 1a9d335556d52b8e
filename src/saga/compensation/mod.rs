//! The backward half of a run: undo, in reverse, every step that may have taken effect.

use crate::saga::definition::{Frame, RetryPolicy};
use crate::saga::error::{Cause, Compensated, Failure, Parked, StepError};
use crate::saga::error::{chain_text, error_text};
use crate::saga::events::{Event, in_step_span};
use crate::saga::run::engine::Engine;
use crate::saga::run::exec::{attempt, join_all};
use crate::saga::run::outcome::Outcome;
use crate::saga::run::record::{Halt, Stopped};
use crate::saga::run::status::Status;
use crate::saga::store::LogEntry;
use std::sync::atomic::Ordering;

impl<I: Send + Sync + 'static> Engine<'_, I> {
    /// Undoes the first `reached` stages, last first, and says how it went.
    ///
    /// Within a stage the compensations run concurrently. If one gives up, the stages before it
    /// are not touched: compensations run strictly in reverse, and the saga is parked.
    /// `turn`: log the turn to compensating (a saga resumed while compensating has it already);
    /// nothing is undone unless the turn is in the log. `Err`: the run stopped (a record
    /// failed), after the stage under way settled.
    pub(crate) async fn compensate(
        &self,
        reached: usize,
        cause: Cause,
        turn: bool,
    ) -> Result<Outcome, Stopped> {
        let reason = chain_text(&cause);
        let failed_step = match &cause {
            Cause::Step(failure) => Some(self.step_ref(failure.index)),
            _ => None,
        };
        if turn {
            let entry = LogEntry::Compensating {
                failed_step,
                reason: reason.clone(),
            };
            self.record(entry).await?;
        }
        self.def.listeners.emit(|name| Event::Compensating {
            name,
            saga: self.run.id.clone(),
            reason,
        });

        let mut compensated = Vec::new();
        let mut stuck = Vec::new();
        let mut pending = Vec::new();
        let stages = self.def.stages.get(..reached).unwrap_or(&self.def.stages);
        for &(start, end) in stages.iter().rev() {
            let todo: Vec<u32> = (start..end)
                .rev()
                .filter(|&i| self.get(i).may_have_taken_effect())
                .filter(|&i| self.def.steps[i as usize].compensation.is_some())
                .collect();
            if !stuck.is_empty() {
                pending.extend(todo.iter().map(|&i| self.def.steps[i as usize].name));
                continue;
            }
            let results = match todo.as_slice() {
                [] => Vec::new(),
                [one] => vec![self.compensate_step(*one, start).await],
                many => join_all(many.iter().map(|&i| self.compensate_step(i, start))).await,
            };
            let mut stopped = false;
            for (&index, result) in todo.iter().zip(results) {
                match result {
                    Ok(()) => compensated.push(self.def.steps[index as usize].name),
                    Err(Halt::Failed(failure)) => stuck.push(failure),
                    Err(Halt::Stopped) => stopped = true,
                }
            }
            if stopped {
                return Err(Stopped);
            }
        }
        let (definition, id) = (self.def.name, self.run.id.clone());
        Ok(if stuck.is_empty() {
            Outcome::Compensated(Compensated {
                definition,
                id,
                cause,
                compensated,
            })
        } else {
            Outcome::Parked(Parked {
                definition,
                id,
                cause,
                compensated,
                stuck,
                pending,
            })
        })
    }

    /// Runs one step's compensation with its retries; like an action, each attempt runs only
    /// once its start is recorded, and a record that fails for good stops the run.
    async fn compensate_step(&self, index: u32, visible: u32) -> Result<(), Halt<Failure>> {
        let step = &self.def.steps[index as usize];
        let Some(compensation) = &step.compensation else {
            return Ok(());
        };
        let default = RetryPolicy::compensation_default();
        let policy = step.compensation_retry.as_ref().unwrap_or(&default);
        let id = &self.run.id;
        let mut tries = policy.tries();
        let mut errors = Vec::new();
        if self.get(index) == Status::UndoInDoubt {
            return Err(Halt::Failed(self.in_doubt(index).await?));
        }
        loop {
            let attempt_no = tries.number();
            self.stopped()?;
            let entry = LogEntry::CompensationStarted {
                step: self.step_ref(index),
                attempt: attempt_no,
            };
            self.record(entry).await?;
            self.def.listeners.emit(|name| Event::CompensationStarted {
                name,
                saga: id.clone(),
                step: step.name,
                attempt: attempt_no,
            });
            let frame = Frame {
                run: self.run.clone(),
                index,
                name: step.name,
                attempt: attempt_no,
                visible,
            };
            let once = attempt(|| compensation(frame), step.compensation_timeout);
            let error = match in_step_span(once, step.name, attempt_no, true).await {
                Ok(()) => {
                    let entry = LogEntry::CompensationCompleted {
                        step: self.step_ref(index),
                        attempt: attempt_no,
                    };
                    // If this cannot be recorded the run stops, and the log shows the
                    // compensation in flight: recovery runs it again unless its step says park.
                    self.record(entry).await?;
                    self.def
                        .listeners
                        .emit(|name| Event::CompensationCompleted {
                            name,
                            saga: id.clone(),
                            step: step.name,
                            attempt: attempt_no,
                        });
                    return Ok(());
                }
                Err(error) => error,
            };
            let will_retry = tries.attempts_left();
            let text = error_text(&error);
            let entry = LogEntry::CompensationFailed {
                step: self.step_ref(index),
                attempt: attempt_no,
                error: text.clone(),
                will_retry,
            };
            self.record(entry).await?;
            self.def.listeners.emit(|name| Event::CompensationFailed {
                name,
                saga: id.clone(),
                step: step.name,
                attempt: attempt_no,
                error: text,
                will_retry,
            });
            errors.push(error);
            if !will_retry {
                break;
            }
            tokio::time::sleep(policy.next_wait(&mut tries)).await;
        }
        let last = errors.pop().unwrap_or(StepError::Abandoned);
        Err(Halt::Failed(Failure {
            step: step.name,
            index,
            compensation: true,
            errors,
            last,
        }))
    }

    /// A compensation in flight at a crash that must not run twice: not run, and the saga
    /// parks. Nothing is logged for it: the log goes on showing it in flight, which is the truth
    /// (nobody knows whether it took effect), so a later resumption finds it in doubt again,
    /// until an operator's [`Reopened`](LogEntry::Reopened) says it may run.
    async fn in_doubt(&self, index: u32) -> Result<Failure, Stopped> {
        let step = self.def.steps[index as usize].name;
        let attempt = self.attempts[index as usize].load(Ordering::Relaxed);
        let error = StepError::InDoubt;
        self.def.listeners.emit(|name| Event::CompensationFailed {
            name,
            saga: self.run.id.clone(),
            step,
            attempt,
            error: error_text(&error),
            will_retry: false,
        });
        Ok(Failure {
            step,
            index,
            compensation: true,
            errors: Vec::new(),
            last: error,
        })
    }
}
