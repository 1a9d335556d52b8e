//! The forward half of a run: run each stage's steps with their retries, stop on failure.

use super::context::{Frame, RunShared, StepContext};
use super::event::{Event, in_step_span};
use super::exec::{Interrupt, attempt as run_attempt, join_all};
use super::outcome::{Cause, Outcome, StepError, StepFailure, error_text};
use super::run::Definition;
use super::store::{LogEntry, StepRef};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

/// Where a step stands. The compensation of a step in `RUNNING`, `WAITING_MAYBE`, `COMPLETED`
/// or `FAILED_MAYBE` runs: its action may have taken effect.
pub(crate) mod status {
    pub(crate) const NOT_STARTED: u8 = 0;
    pub(crate) const RUNNING: u8 = 1;
    pub(crate) const WAITING: u8 = 2;
    pub(crate) const WAITING_MAYBE: u8 = 3;
    pub(crate) const COMPLETED: u8 = 4;
    pub(crate) const FAILED: u8 = 5;
    pub(crate) const FAILED_MAYBE: u8 = 6;
    /// Resumed from a log that shows its compensation completed: nothing left to undo.
    pub(crate) const UNDONE: u8 = 7;
    /// Resumed from a log that shows its compensation in flight, and the step says it must not
    /// run twice ([`Resume::Park`](crate::saga::Resume::Park)): the saga parks on it.
    pub(crate) const UNDO_IN_DOUBT: u8 = 8;

    pub(crate) fn may_have_taken_effect(s: u8) -> bool {
        matches!(
            s,
            RUNNING | WAITING_MAYBE | COMPLETED | FAILED_MAYBE | UNDO_IN_DOUBT
        )
    }
}

/// One run in progress: the definition, the shared run state and each step's status.
pub(crate) struct Engine<'a, I> {
    pub(crate) def: &'a Definition<I>,
    pub(crate) run: &'a Arc<RunShared<I>>,
    pub(crate) status: Box<[AtomicU8]>,
    /// The attempt each step is on, for the log of an abandoned attempt.
    pub(crate) attempts: Box<[AtomicU32]>,
}

impl<I: Send + Sync + 'static> Engine<'_, I> {
    pub(crate) fn step_ref(&self, index: u32) -> StepRef {
        StepRef {
            index,
            name: Cow::Borrowed(self.def.steps[index as usize].name),
        }
    }

    pub(crate) fn set(&self, index: u32, s: u8) {
        self.status[index as usize].store(s, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, index: u32) -> u8 {
        self.status[index as usize].load(Ordering::Relaxed)
    }

    /// Runs the stages from `from` on, in order; on a failure, an interrupt or the end of the
    /// stages, says how the run ended.
    pub(crate) async fn forward(&self, from: usize, interrupt: &mut Interrupt) -> Outcome {
        let mut reached = from;
        for &(start, end) in self.def.stages.get(from..).unwrap_or_default() {
            reached += 1;
            let cause = match interrupt.race(self.run_stage(start, end)).await {
                Ok(Ok(())) => continue,
                Ok(Err(failure)) => Cause::Step(failure),
                Err(interrupted) => {
                    self.abandon(start, end).await;
                    interrupted
                }
            };
            return self.compensate(reached, cause, true).await;
        }
        Outcome::Completed(self.run.outputs.clone())
    }

    /// Runs the steps `start..end` (concurrently if more than one) that have not completed (a
    /// resumed stage may have some done). On failure, returns the first failed step's failure,
    /// after every step of the stage has settled.
    async fn run_stage(&self, start: u32, end: u32) -> Result<(), StepFailure> {
        if end - start == 1 {
            if self.get(start) == status::COMPLETED {
                return Ok(());
            }
            return self.run_step(start, start).await;
        }
        let todo = (start..end).filter(|&i| self.get(i) != status::COMPLETED);
        let results = join_all(todo.map(|i| self.run_step(i, start))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Runs one step's action with its retries. `visible`: the first step of its stage.
    async fn run_step(&self, index: u32, visible: u32) -> Result<(), StepFailure> {
        let step = &self.def.steps[index as usize];
        let id = &self.run.id;
        let max = step.retry.max_attempts();
        let mut errors = Vec::new();
        let mut delays = step.retry.delays();
        // A resumed step whose attempt was in flight at the crash may have taken effect already.
        let mut maybe = status::may_have_taken_effect(self.get(index));
        // A resumed step numbers its attempts after the logged ones.
        let base = self.attempts[index as usize].load(Ordering::Relaxed);
        for k in 1..=max {
            let attempt = base.saturating_add(k);
            let entry = LogEntry::StepStarted {
                step: self.step_ref(index),
                attempt,
            };
            let error = match self.def.store.append(id, entry).await {
                // The start is not logged, so the action does not run.
                Err(e) => StepError::Store(e),
                Ok(()) => {
                    self.set(index, status::RUNNING);
                    self.attempts[index as usize].store(attempt, Ordering::Relaxed);
                    self.def.listeners.emit(|| Event::StepStarted {
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
                    match in_step_span(once, step.name, attempt, false).await {
                        Ok(produced) => {
                            let _ = self.run.outputs.slots[index as usize].set(produced.value);
                            self.set(index, status::COMPLETED);
                            let error = match produced.json {
                                Ok(output) => {
                                    let step = self.step_ref(index);
                                    let done = LogEntry::StepCompleted {
                                        step,
                                        attempt,
                                        output,
                                    };
                                    match self.def.store.append(id, done).await {
                                        Ok(()) => {
                                            self.emit_completed(index, attempt);
                                            return Ok(());
                                        }
                                        Err(e) => StepError::Store(e),
                                    }
                                }
                                Err(e) => StepError::Output(e),
                            };
                            // It took effect but cannot be recorded: stop, and undo it.
                            self.log_failed(index, attempt, &error, true, false).await;
                            return Err(failure(step.name, index, errors, error));
                        }
                        Err(error) => error,
                    }
                }
            };
            let unknown = error.outcome_unknown();
            maybe |= unknown;
            let will_retry = k < max;
            self.log_failed(index, attempt, &error, unknown, will_retry)
                .await;
            errors.push(error);
            if will_retry {
                let next = if maybe {
                    status::WAITING_MAYBE
                } else {
                    status::WAITING
                };
                self.set(index, next);
                let delay = delays.next().unwrap_or_default();
                self.def.listeners.emit(|| Event::StepRetrying {
                    saga: id.clone(),
                    step: step.name,
                    attempt: attempt + 1,
                    delay,
                });
                tokio::time::sleep(delay).await;
            }
        }
        self.set(
            index,
            if maybe {
                status::FAILED_MAYBE
            } else {
                status::FAILED
            },
        );
        let last = errors.pop().unwrap_or(StepError::Abandoned);
        Err(failure(step.name, index, errors, last))
    }

    fn emit_completed(&self, index: u32, attempt: u32) {
        self.def.listeners.emit(|| Event::StepCompleted {
            saga: self.run.id.clone(),
            step: self.def.steps[index as usize].name,
            attempt,
        });
    }

    /// Logs and reports a failed attempt. A failure to log it is not fatal: the log then shows
    /// the attempt as in flight, which a replay treats as possibly applied (and compensates).
    async fn log_failed(
        &self,
        index: u32,
        attempt: u32,
        e: &StepError,
        unknown: bool,
        retry: bool,
    ) {
        let text = error_text(e);
        self.def.listeners.emit(|| Event::StepFailed {
            saga: self.run.id.clone(),
            step: self.def.steps[index as usize].name,
            attempt,
            error: text.clone(),
            will_retry: retry,
        });
        let entry = LogEntry::StepFailed {
            step: self.step_ref(index),
            attempt,
            error: text,
            outcome_unknown: unknown,
            will_retry: retry,
        };
        let _ = self.def.store.append(&self.run.id, entry).await;
    }

    /// After an interrupt dropped the stage's futures: a step caught in flight (or between
    /// attempts after one that may have taken effect) is marked as possibly applied.
    async fn abandon(&self, start: u32, end: u32) {
        for index in start..end {
            let s = self.get(index);
            if matches!(s, status::RUNNING | status::WAITING_MAYBE | status::WAITING) {
                let unknown = s != status::WAITING;
                self.set(
                    index,
                    if unknown {
                        status::FAILED_MAYBE
                    } else {
                        status::FAILED
                    },
                );
                let attempt = self.attempts[index as usize].load(Ordering::Relaxed);
                self.log_failed(index, attempt, &StepError::Abandoned, unknown, false)
                    .await;
            }
        }
    }
}

fn failure(step: &'static str, index: u32, errors: Vec<StepError>, last: StepError) -> StepFailure {
    StepFailure {
        step,
        index,
        errors,
        last,
    }
}
