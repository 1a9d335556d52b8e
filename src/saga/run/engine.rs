//! The forward half of a run: run each stage's steps with their retries, stop on failure.

use super::exec::{Interrupt, attempt as run_attempt, join_all};
use super::outcome::Outcome;
use super::record::{Halt, StopCell, Stopped};
use super::status::{Status, StatusCell};
use crate::saga::definition::{Definition, Frame, RunShared, StepContext};
use crate::saga::error::{Cause, Failure, StepError, error_text};
use crate::saga::events::{Event, in_step_span};
use crate::saga::store::{Claim, LogEntry, StepRef};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// One run in progress: the definition, the shared run state and each step's status.
pub(crate) struct Engine<'a, I> {
    pub(crate) def: &'a Definition<I>,
    pub(crate) run: &'a Arc<RunShared<I>>,
    pub(crate) status: Box<[StatusCell]>,
    /// The attempt each step is on, for the log of an abandoned attempt.
    pub(crate) attempts: Box<[AtomicU32]>,
    /// The claim the run writes under.
    pub(crate) claim: &'a Claim,
    /// Set when an append failed for good (or the claim was lost): the run stops.
    pub(crate) stop: StopCell,
}

impl<I: Send + Sync + 'static> Engine<'_, I> {
    pub(crate) fn step_ref(&self, index: u32) -> StepRef {
        StepRef {
            index,
            name: Cow::Borrowed(self.def.steps[index as usize].name),
        }
    }

    pub(crate) fn set(&self, index: u32, s: Status) {
        self.status[index as usize].set(s);
    }

    pub(crate) fn get(&self, index: u32) -> Status {
        self.status[index as usize].get()
    }

    /// Runs the stages from `from` on, in order; on a failure, an interrupt or the end of the
    /// stages, says how the run ended. `Err`: the run stopped short of an outcome.
    pub(crate) async fn forward(
        &self,
        from: usize,
        interrupt: &mut Interrupt,
    ) -> Result<Outcome, Stopped> {
        let mut reached = from;
        for &(start, end) in self.def.stages.get(from..).unwrap_or_default() {
            reached += 1;
            let cause = match interrupt.race(self.run_stage(start, end)).await {
                Ok(Ok(())) => continue,
                Ok(Err(Halt::Failed(failure))) => Cause::Step(failure),
                Ok(Err(Halt::Stopped)) => return Err(Stopped),
                Err(interrupted) => {
                    self.abandon(start, end).await?;
                    interrupted
                }
            };
            // A record that failed in the stage (before an interrupt dropped it) stops the run.
            self.stopped()?;
            return self.compensate(reached, cause, true).await;
        }
        Ok(Outcome::Completed(self.run.outputs.clone()))
    }

    /// Runs the steps `start..end` (concurrently if more than one) that have not completed (a
    /// resumed stage may have some done). On failure, returns the first failed step's failure,
    /// after every step of the stage has settled; if the run stopped, says so (also after the
    /// others settled: a step in flight finishes its attempt and records it, none starts anew).
    async fn run_stage(&self, start: u32, end: u32) -> Result<(), Halt<Failure>> {
        if end - start == 1 {
            if self.get(start) == Status::Completed {
                return Ok(());
            }
            return self.run_step(start, start).await;
        }
        let todo = (start..end).filter(|&i| self.get(i) != Status::Completed);
        let results = join_all(todo.map(|i| self.run_step(i, start))).await;
        if results.iter().any(|r| matches!(r, Err(Halt::Stopped))) {
            return Err(Halt::Stopped);
        }
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Runs one step's action with its retries. `visible`: the first step of its stage.
    ///
    /// Each attempt runs only once its start is recorded; its end is recorded before anything
    /// else happens. If a record fails for good, the run stops: an action that completed but
    /// whose completion could not be recorded is, as the log tells it, in flight.
    async fn run_step(&self, index: u32, visible: u32) -> Result<(), Halt<Failure>> {
        let step = &self.def.steps[index as usize];
        let id = &self.run.id;
        let mut tries = step.retry.tries();
        let mut errors = Vec::new();
        // A resumed step whose attempt was in flight at the crash may have taken effect already.
        let mut maybe = self.get(index).may_have_taken_effect();
        // A resumed step numbers its attempts after the logged ones.
        let base = self.attempts[index as usize].load(Ordering::Relaxed);
        loop {
            self.stopped()?;
            let attempt = base.saturating_add(tries.number());
            let before = self.get(index);
            self.set(index, Status::Starting);
            let entry = LogEntry::StepStarted {
                step: self.step_ref(index),
                attempt,
            };
            if let Err(stopped) = self.record(entry).await {
                // The action did not run.
                self.set(index, before);
                return Err(stopped.into());
            }
            self.set(index, Status::Running);
            self.attempts[index as usize].store(attempt, Ordering::Relaxed);
            self.def.listeners.emit(|name| Event::StepStarted {
                name,
                saga: id.clone(),
                step: step.name,
                attempt,
            });
            let ctx = StepContext {
                frame: Frame {
                    run: self.run.clone(),
                    index,
                    name: step.name,
                    attempt,
                    visible,
                },
            };
            let once = run_attempt(|| (step.action)(ctx), step.timeout);
            let error = match in_step_span(once, step.name, attempt, false).await {
                Ok(produced) => {
                    let _ = self.run.outputs.slots[index as usize].set(produced.value);
                    self.set(index, Status::Completed);
                    let error = match produced.json {
                        Ok(output) => {
                            let step = self.step_ref(index);
                            let done = LogEntry::StepCompleted {
                                step,
                                attempt,
                                output,
                            };
                            self.record(done).await?;
                            self.emit_completed(index, attempt);
                            return Ok(());
                        }
                        Err(e) => StepError::Output(e),
                    };
                    // It took effect but its output cannot be recorded: a failure, undone.
                    self.set(index, Status::FailedMaybe);
                    self.log_failed(index, attempt, &error, true, false).await?;
                    return Err(Halt::Failed(failure(step.name, index, errors, error)));
                }
                Err(error) => error,
            };
            let unknown = error.outcome_unknown();
            maybe |= unknown;
            let will_retry = tries.attempts_left();
            self.log_failed(index, attempt, &error, unknown, will_retry)
                .await?;
            errors.push(error);
            if !will_retry {
                break;
            }
            let next = if maybe {
                Status::WaitingMaybe
            } else {
                Status::Waiting
            };
            self.set(index, next);
            let delay = step.retry.next_wait(&mut tries);
            self.def.listeners.emit(|name| Event::StepRetrying {
                name,
                saga: id.clone(),
                step: step.name,
                attempt: attempt + 1,
                delay,
            });
            tokio::time::sleep(delay).await;
        }
        self.set(
            index,
            if maybe {
                Status::FailedMaybe
            } else {
                Status::Failed
            },
        );
        let last = errors.pop().unwrap_or(StepError::Abandoned);
        Err(Halt::Failed(failure(step.name, index, errors, last)))
    }

    fn emit_completed(&self, index: u32, attempt: u32) {
        self.def.listeners.emit(|name| Event::StepCompleted {
            name,
            saga: self.run.id.clone(),
            step: self.def.steps[index as usize].name,
            attempt,
        });
    }

    /// Logs and reports a failed attempt; if it cannot be logged, the run stops (the log then
    /// shows the attempt in flight, which a replay treats as possibly applied).
    async fn log_failed(
        &self,
        index: u32,
        attempt: u32,
        e: &StepError,
        unknown: bool,
        retry: bool,
    ) -> Result<(), Stopped> {
        let text = error_text(e);
        let entry = LogEntry::StepFailed {
            step: self.step_ref(index),
            attempt,
            error: text.clone(),
            outcome_unknown: unknown,
            will_retry: retry,
        };
        self.record(entry).await?;
        self.def.listeners.emit(|name| Event::StepFailed {
            name,
            saga: self.run.id.clone(),
            step: self.def.steps[index as usize].name,
            attempt,
            error: text,
            will_retry: retry,
        });
        Ok(())
    }

    /// After an interrupt dropped the stage's futures: a step caught in flight (its start being
    /// recorded, or its action running, or between attempts after one that may have taken
    /// effect) is marked as possibly applied.
    async fn abandon(&self, start: u32, end: u32) -> Result<(), Stopped> {
        for index in start..end {
            let s = self.get(index);
            if matches!(
                s,
                Status::Running | Status::Starting | Status::WaitingMaybe | Status::Waiting
            ) {
                let unknown = s != Status::Waiting;
                self.set(
                    index,
                    if unknown {
                        Status::FailedMaybe
                    } else {
                        Status::Failed
                    },
                );
                let mut attempt = self.attempts[index as usize].load(Ordering::Relaxed);
                if s == Status::Starting {
                    attempt += 1;
                }
                self.log_failed(index, attempt, &StepError::Abandoned, unknown, false)
                    .await?;
            }
        }
        Ok(())
    }
}

fn failure(step: &'static str, index: u32, errors: Vec<StepError>, last: StepError) -> Failure {
    Failure {
        step,
        index,
        compensation: false,
        errors,
        last,
    }
}
