//! Reading a log back (`Replay::from_log`), entry by entry: what each entry does to a step's
//! record and to the phase, which logs are refused, and what is left to undo.
#![cfg(feature = "saga")]

use bulwark::saga::{LogEntry, OutcomeKind, Phase, Progress, Replay};

use crate::support::{at, finished, started, step_completed, step_started};

fn begun() -> LogEntry {
    started("order", 1, serde_json::json!(4))
}

fn step_failed(
    index: u32,
    name: &'static str,
    attempt: u32,
    unknown: bool,
    retry: bool,
) -> LogEntry {
    LogEntry::StepFailed {
        step: at(index, name),
        attempt,
        error: "unavailable".into(),
        outcome_unknown: unknown,
        will_retry: retry,
    }
}

fn compensating() -> LogEntry {
    LogEntry::Compensating {
        failed_step: Some(at(1, "b")),
        reason: "step `b` failed".into(),
    }
}

fn undo_started(index: u32, name: &'static str, attempt: u32) -> LogEntry {
    LogEntry::CompensationStarted {
        step: at(index, name),
        attempt,
    }
}

fn undo_completed(index: u32, name: &'static str) -> LogEntry {
    LogEntry::CompensationCompleted {
        step: at(index, name),
        attempt: 1,
    }
}

fn undo_failed(index: u32, name: &'static str, attempt: u32, retry: bool) -> LogEntry {
    LogEntry::CompensationFailed {
        step: at(index, name),
        attempt,
        error: "refund service down".into(),
        will_retry: retry,
    }
}

fn reopened() -> LogEntry {
    LogEntry::Reopened {
        note: "checked by hand".into(),
    }
}

fn resolved() -> LogEntry {
    LogEntry::Resolved {
        note: "refunded by hand".into(),
    }
}

/// `a` completed, `b` failed for good, the saga turned back and undid `a`'s compensation up
/// to an attempt in flight, then parked.
fn parked_with_a_in_doubt() -> Vec<LogEntry> {
    vec![
        begun(),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        step_started(1, "b", 1),
        step_failed(1, "b", 1, false, false),
        compensating(),
        undo_started(0, "a", 1),
        finished(OutcomeKind::Parked),
    ]
}

fn refused(log: &[LogEntry]) -> String {
    Replay::from_log(log).unwrap_err().to_string()
}

#[test]
fn each_entry_moves_its_step_along() {
    let log = vec![
        begun(),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        step_started(1, "b", 1),
        step_failed(1, "b", 1, false, true),
        step_started(2, "c", 1),
    ];
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(replay.phase, Phase::Forward);
    assert_eq!(replay.input, serde_json::json!(4));
    let (a, b, c) = (&replay.steps[&0], &replay.steps[&1], &replay.steps[&2]);
    assert_eq!(
        (a.name.as_str(), a.action, a.attempts),
        ("a", Progress::Completed, 1)
    );
    assert_eq!(a.output, Some(serde_json::json!(40)));
    assert!(a.may_have_taken_effect);
    // Failed for sure, and another attempt was to follow.
    assert_eq!(
        (b.action, b.attempts, b.output.as_ref()),
        (Progress::Retrying, 1, None)
    );
    assert!(!b.may_have_taken_effect);
    // Started, with no end in the log: it may have taken effect.
    assert_eq!((c.action, c.attempts), (Progress::InFlight, 1));
    assert!(c.may_have_taken_effect);
    for step in [a, b, c] {
        assert_eq!(step.compensation, Progress::NotStarted);
        assert_eq!(step.compensation_attempts, 0);
    }
    assert_eq!(replay.to_compensate(), [2, 0]);
}

#[test]
fn a_step_that_failed_on_its_last_attempt_is_failed_and_undone_only_if_it_may_have_taken_effect() {
    let sure = Replay::from_log(&[
        begun(),
        step_started(0, "a", 1),
        step_failed(0, "a", 1, false, false),
    ])
    .unwrap();
    assert_eq!(sure.steps[&0].action, Progress::Failed);
    assert!(!sure.steps[&0].may_have_taken_effect);
    assert!(sure.to_compensate().is_empty());

    // An attempt whose outcome is unknown (timed out) taints the step for good, even if a later
    // attempt failed for sure.
    let unknown = Replay::from_log(&[
        begun(),
        step_started(0, "a", 1),
        step_failed(0, "a", 1, true, true),
        step_started(0, "a", 2),
        step_failed(0, "a", 2, false, false),
    ])
    .unwrap();
    let a = &unknown.steps[&0];
    assert_eq!((a.action, a.attempts), (Progress::Failed, 2));
    assert!(a.may_have_taken_effect);
    assert_eq!(unknown.to_compensate(), [0]);
}

#[test]
fn attempts_are_the_highest_logged_and_a_completed_action_stays_completed() {
    let replay = Replay::from_log(&[
        begun(),
        step_started(0, "a", 3),
        step_started(0, "a", 2),
        step_completed(0, "a", serde_json::json!(1)),
        step_failed(0, "a", 3, false, false),
        undo_started(0, "a", 2),
        undo_failed(0, "a", 2, true),
        undo_started(0, "a", 1),
    ])
    .unwrap();
    let a = &replay.steps[&0];
    assert_eq!((a.attempts, a.action), (3, Progress::Completed));
    assert_eq!(a.output, Some(serde_json::json!(1)));
    assert_eq!(
        (a.compensation, a.compensation_attempts),
        (Progress::InFlight, 2)
    );
}

#[test]
fn compensation_entries_move_the_compensation_along_and_turn_the_saga_back() {
    let mut log = vec![
        begun(),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        step_started(1, "b", 1),
        step_completed(1, "b", serde_json::json!(41)),
        step_started(2, "c", 1),
        step_completed(2, "c", serde_json::json!(42)),
        step_started(3, "d", 1),
        step_failed(3, "d", 1, false, false),
        // No `Compensating` entry made it into the log; the compensations say it all the same.
        undo_started(2, "c", 1),
        undo_completed(2, "c"),
        undo_started(1, "b", 1),
        undo_failed(1, "b", 1, true),
    ];
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(replay.phase, Phase::Compensating);
    assert_eq!(replay.reason, None);
    assert_eq!(replay.steps[&2].compensation, Progress::Completed);
    assert_eq!(
        (
            replay.steps[&1].compensation,
            replay.steps[&1].compensation_attempts
        ),
        (Progress::Retrying, 1)
    );
    assert_eq!(replay.steps[&0].compensation, Progress::NotStarted);
    // c is undone; b (retrying) and a (not started) are left, last first; d never took effect.
    assert_eq!(replay.to_compensate(), [1, 0]);

    log.extend([undo_started(1, "b", 2), undo_failed(1, "b", 2, false)]);
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(
        (
            replay.steps[&1].compensation,
            replay.steps[&1].compensation_attempts
        ),
        (Progress::Failed, 2)
    );
}

#[test]
fn the_turn_back_gives_the_phase_and_the_reason() {
    let replay = Replay::from_log(&[
        begun(),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        compensating(),
    ])
    .unwrap();
    assert_eq!(replay.phase, Phase::Compensating);
    assert_eq!(replay.reason.as_deref(), Some("step `b` failed"));
    assert_eq!(replay.to_compensate(), [0]);
}

#[test]
fn a_reopened_saga_is_compensating_again_and_its_compensation_in_doubt_may_run() {
    let log = parked_with_a_in_doubt();
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(replay.phase, Phase::Finished(OutcomeKind::Parked));
    assert_eq!(replay.steps[&0].compensation, Progress::InFlight);

    let mut reopened_log = log.clone();
    reopened_log.push(reopened());
    let replay = Replay::from_log(&reopened_log).unwrap();
    assert_eq!(replay.phase, Phase::Compensating);
    assert_eq!(replay.steps[&0].compensation, Progress::Retrying);
    // Only a compensation in flight is released; one never started stays as it was.
    assert_eq!(replay.steps[&1].compensation, Progress::NotStarted);
    assert_eq!(replay.to_compensate(), [0]);

    // Reopened, it may park again and be reopened again.
    reopened_log.extend([
        undo_started(0, "a", 2),
        undo_failed(0, "a", 2, false),
        finished(OutcomeKind::Parked),
        reopened(),
    ]);
    let replay = Replay::from_log(&reopened_log).unwrap();
    assert_eq!(replay.phase, Phase::Compensating);
    assert_eq!(replay.steps[&0].compensation, Progress::Failed);
}

#[test]
fn a_resolved_saga_is_done_for_good() {
    let mut log = parked_with_a_in_doubt();
    log.push(resolved());
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(replay.phase, Phase::Resolved);

    log.push(reopened());
    assert_eq!(
        refused(&log),
        "saga log entry 9: an operator's entry for a saga that is not parked"
    );
    log.pop();
    log.push(undo_started(0, "a", 2));
    assert_eq!(refused(&log), "saga log entry 9: entry after `finished`");
}

#[test]
fn an_operators_entry_for_a_saga_that_is_not_parked_is_refused() {
    let going = vec![begun(), step_started(0, "a", 1)];
    let done = vec![
        begun(),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        finished(OutcomeKind::Completed),
    ];
    for (log, position) in [(going, 2), (done, 4)] {
        for entry in [reopened(), resolved()] {
            let mut log = log.clone();
            log.push(entry);
            assert_eq!(
                refused(&log),
                format!(
                    "saga log entry {position}: an operator's entry for a saga that is not parked"
                )
            );
        }
    }
}

#[test]
fn nothing_follows_finished() {
    for outcome in [
        OutcomeKind::Completed,
        OutcomeKind::Compensated,
        OutcomeKind::Parked,
    ] {
        for entry in [
            step_started(0, "a", 2),
            compensating(),
            finished(OutcomeKind::Completed),
        ] {
            let log = [begun(), finished(outcome), entry];
            assert_eq!(refused(&log), "saga log entry 2: entry after `finished`");
        }
    }
}

#[test]
fn a_log_that_does_not_read_as_a_sagas_is_refused() {
    assert_eq!(
        refused(&[]),
        "saga log entry 0: the first entry must be `started`"
    );
    assert_eq!(
        refused(&[step_started(0, "a", 1)]),
        "saga log entry 0: the first entry must be `started`"
    );
    assert_eq!(
        refused(&[begun(), begun()]),
        "saga log entry 1: a second `started`"
    );
    assert_eq!(
        refused(&[begun(), step_started(0, "a", 1), step_started(0, "b", 1)]),
        "saga log entry 2: two names for one step index"
    );
    // The same name at the same index is one step.
    let replay = Replay::from_log(&[begun(), step_started(0, "a", 1), step_started(0, "a", 2)]);
    assert_eq!(replay.unwrap().steps[&0].attempts, 2);
}
