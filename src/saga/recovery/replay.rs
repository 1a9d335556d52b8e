//! Reading a saga's log back: where the saga stood, step by step.

use crate::saga::store::{LogEntry, OutcomeKind, StepRef};
use std::collections::BTreeMap;

/// Where a saga stood, as its log tells it: what an operator inspects, and what recovery
/// resumes from.
///
/// [`Replay::from_log`] folds the entries of one log (from [`SagaStore::load`](crate::saga::SagaStore::load))
/// in order. Nothing here runs a step; it only reads.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Replay {
    /// The definition's name, from the first entry.
    pub definition: String,
    /// The definition's version, from the first entry: compare it with the registered
    /// definition's before resuming.
    pub version: u32,
    /// The saga's input.
    pub input: serde_json::Value,
    /// Why the saga turned back, from its last [`LogEntry::Compensating`] entry.
    pub reason: Option<String>,
    /// Going forward, compensating, or finished: decided by every entry, not only the markers
    /// (a compensation entry means the saga was compensating, with or without a
    /// [`LogEntry::Compensating`] before it).
    pub phase: Phase,
    /// Every step the log mentions, by index.
    pub steps: BTreeMap<u32, StepRecord>,
}

/// Which way a saga was going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Running steps.
    Forward,
    /// Undoing steps.
    Compensating,
    /// Done, with this outcome (a parked saga may still be reopened or resolved).
    Finished(OutcomeKind),
    /// Parked, then resolved by an operator: nothing more runs for it.
    Resolved,
}

/// One step, as the log tells it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepRecord {
    /// The step's name.
    pub name: String,
    /// Attempts of its action started.
    pub attempts: u32,
    /// Where its action stands.
    pub action: Progress,
    /// Its output, if its action completed.
    pub output: Option<serde_json::Value>,
    /// Whether its action may have taken effect: it completed, or an attempt was in flight
    /// when the log stops, or timed out, panicked or was abandoned.
    pub may_have_taken_effect: bool,
    /// Where its compensation stands. A compensation in flight when the saga parked (in
    /// doubt, see [`Resume::Park`](crate::saga::Resume::Park)) reads as
    /// [`Retrying`](Progress::Retrying) after an operator's [`LogEntry::Reopened`].
    pub compensation: Progress,
    /// Attempts of its compensation started.
    pub compensation_attempts: u32,
}

/// Where an action or a compensation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Not started.
    NotStarted,
    /// An attempt started and its end is not in the log.
    InFlight,
    /// An attempt failed and another was to follow.
    Retrying,
    /// Completed.
    Completed,
    /// Failed on its last attempt.
    Failed,
}

/// A log that does not read as a saga's log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("saga log entry {position}: {reason}")]
pub struct ReplayError {
    position: usize,
    reason: &'static str,
}

impl Replay {
    /// Folds `log` (one saga's entries, in append order).
    pub fn from_log(log: &[LogEntry]) -> Result<Self, ReplayError> {
        let err = |position, reason| Err(ReplayError { position, reason });
        let Some(LogEntry::Started {
            definition,
            version,
            input,
        }) = log.first()
        else {
            return err(0, "the first entry must be `started`");
        };
        let mut replay = Replay {
            definition: definition.to_string(),
            version: *version,
            input: input.clone(),
            reason: None,
            phase: Phase::Forward,
            steps: BTreeMap::new(),
        };
        for (position, entry) in log.iter().enumerate().skip(1) {
            let parked = replay.phase == Phase::Finished(OutcomeKind::Parked);
            match (entry, replay.phase) {
                (LogEntry::Reopened { .. }, _) if parked => {
                    replay.phase = Phase::Compensating;
                    // The operator checked the compensations left in doubt: they may run.
                    for record in replay.steps.values_mut() {
                        if record.compensation == Progress::InFlight {
                            record.compensation = Progress::Retrying;
                        }
                    }
                    continue;
                }
                (LogEntry::Resolved { .. }, _) if parked => {
                    replay.phase = Phase::Resolved;
                    continue;
                }
                (LogEntry::Reopened { .. } | LogEntry::Resolved { .. }, _) => {
                    return err(
                        position,
                        "an operator's entry for a saga that is not parked",
                    );
                }
                (_, Phase::Finished(_) | Phase::Resolved) => {
                    return err(position, "entry after `finished`");
                }
                _ => {}
            }
            let Some(record) = (match entry {
                LogEntry::Started { .. } => return err(position, "a second `started`"),
                LogEntry::Compensating { reason, .. } => {
                    replay.phase = Phase::Compensating;
                    replay.reason = Some(reason.clone());
                    continue;
                }
                LogEntry::Reopened { .. } | LogEntry::Resolved { .. } => continue,
                LogEntry::Finished { outcome } => {
                    replay.phase = Phase::Finished(*outcome);
                    continue;
                }
                LogEntry::StepStarted { step: s, .. }
                | LogEntry::StepCompleted { step: s, .. }
                | LogEntry::StepFailed { step: s, .. }
                | LogEntry::CompensationStarted { step: s, .. }
                | LogEntry::CompensationCompleted { step: s, .. }
                | LogEntry::CompensationFailed { step: s, .. } => record(&mut replay.steps, s),
            }) else {
                return err(position, "two names for one step index");
            };
            if matches!(
                entry,
                LogEntry::CompensationStarted { .. }
                    | LogEntry::CompensationCompleted { .. }
                    | LogEntry::CompensationFailed { .. }
            ) {
                // A compensation ran: the saga had turned back, whether or not its
                // `Compensating` entry made it into the log.
                replay.phase = Phase::Compensating;
            }
            match entry {
                LogEntry::StepStarted { attempt, .. } => {
                    record.attempts = record.attempts.max(*attempt);
                    record.action = Progress::InFlight;
                }
                LogEntry::StepCompleted { output, .. } => {
                    record.action = Progress::Completed;
                    record.output = Some(output.clone());
                    record.may_have_taken_effect = true;
                }
                LogEntry::StepFailed {
                    outcome_unknown,
                    will_retry,
                    ..
                } => {
                    record.may_have_taken_effect |= *outcome_unknown;
                    if record.action != Progress::Completed {
                        record.action = if *will_retry {
                            Progress::Retrying
                        } else {
                            Progress::Failed
                        };
                    }
                }
                LogEntry::CompensationStarted { attempt, .. } => {
                    record.compensation_attempts = record.compensation_attempts.max(*attempt);
                    record.compensation = Progress::InFlight;
                }
                LogEntry::CompensationCompleted { .. } => record.compensation = Progress::Completed,
                LogEntry::CompensationFailed { will_retry, .. } => {
                    record.compensation = if *will_retry {
                        Progress::Retrying
                    } else {
                        Progress::Failed
                    };
                }
                _ => {}
            }
        }
        for record in replay.steps.values_mut() {
            if record.action == Progress::InFlight {
                record.may_have_taken_effect = true;
            }
        }
        Ok(replay)
    }

    /// The steps that may have taken effect and whose compensation has not completed, last
    /// first: what is left to undo (for steps that have a compensation).
    pub fn to_compensate(&self) -> Vec<u32> {
        self.steps
            .iter()
            .rev()
            .filter(|(_, r)| r.may_have_taken_effect && r.compensation != Progress::Completed)
            .map(|(&index, _)| index)
            .collect()
    }
}

/// The record of step `s`, created on first sight; `None` if the index had another name.
fn record<'a>(steps: &'a mut BTreeMap<u32, StepRecord>, s: &StepRef) -> Option<&'a mut StepRecord> {
    let record = steps.entry(s.index).or_insert_with(|| StepRecord {
        name: s.name.to_string(),
        attempts: 0,
        action: Progress::NotStarted,
        output: None,
        may_have_taken_effect: false,
        compensation: Progress::NotStarted,
        compensation_attempts: 0,
    });
    (record.name == s.name).then_some(record)
}
