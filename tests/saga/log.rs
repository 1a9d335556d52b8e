//! The saga log and the store contract: what is recorded, when, and what a failing store does;
//! the events of a run.
#![cfg(feature = "saga")]

use bulwark::BoxError;
use bulwark::saga::{
    Event, InMemoryStore, LogEntry, Outcome, OutcomeKind, Phase, Progress, Replay, RetryPolicy,
    Saga, SagaError, SagaId, SagaStore, Step,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support as saga_support;
use saga_support::{Fault, FaultyStore};

/// Records what ran.
#[derive(Clone, Default)]
struct Ran(Arc<Mutex<Vec<&'static str>>>);

impl Ran {
    fn push(&self, s: &'static str) {
        self.0.lock().unwrap().push(s);
    }
    fn get(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().clone()
    }
}

fn recorded(ran: &Ran, name: &'static str, undo: &'static str) -> Step<u32, ()> {
    let (r1, r2) = (ran.clone(), ran.clone());
    Step::new(name, move |_ctx| {
        let r = r1.clone();
        async move {
            r.push(name);
            Ok::<_, BoxError>(())
        }
    })
    .compensate(move |_ctx| {
        let r = r2.clone();
        async move {
            r.push(undo);
            Ok::<_, BoxError>(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn in_memory_store_forgets_finished_sagas_but_keeps_parked_ones() {
    let store = InMemoryStore::new();
    let ran = Ran::default();
    let mut ok = Saga::<u32>::builder("ok").store(store.clone());
    ok.step(recorded(&ran, "a", "undo a"));
    assert!(matches!(
        ok.build().unwrap().run_with_id("done", 0).await.unwrap(),
        Outcome::Completed(_)
    ));
    assert!(store.log(&"done".into()).is_empty());

    let mut stuck = Saga::<u32>::builder("stuck").store(store.clone());
    stuck.step(
        Step::new("a", |_ctx| async { Ok::<_, BoxError>(()) })
            .compensate(|_ctx| async { Err::<(), BoxError>("no".into()) })
            .compensation_retry(RetryPolicy::fixed(2, Duration::from_millis(1))),
    );
    stuck.step(Step::new("b", |_ctx| async {
        Err::<(), BoxError>("fail".into())
    }));
    let outcome = stuck
        .build()
        .unwrap()
        .run_with_id("parked", 0)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Parked(_)));
    let log = store.log(&"parked".into());
    assert!(matches!(
        log.last(),
        Some(LogEntry::Finished {
            outcome: OutcomeKind::Parked
        })
    ));
    assert!(store.list_unfinished().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_log_of_a_saga_in_flight_shows_the_step_in_flight_and_lists_it_unfinished() {
    let store = InMemoryStore::keep_all();
    let ran = Ran::default();
    let mut b = Saga::<u32>::builder("in-flight")
        .version(3)
        .store(store.clone());
    b.step(recorded(&ran, "a", "undo a"));
    b.step(Step::new("hang", |_ctx| async {
        std::future::pending::<()>().await;
        Ok::<u32, BoxError>(1)
    }));
    let run = b.build().unwrap().run_with_id("order-1", 7);
    tokio::time::sleep(Duration::from_millis(1)).await;

    let id = SagaId::new("order-1");
    assert_eq!(store.list_unfinished().await.unwrap(), vec![id.clone()]);
    let log = store.load(&id).await.unwrap();
    assert!(matches!(&log[0],
        LogEntry::Started { definition, version: 3, input } if definition == "in-flight" && *input == 7));
    assert!(
        matches!(log.last(), Some(LogEntry::StepStarted { step, attempt: 1 }) if step.name == "hang" && step.index == 1)
    );

    // Replayed, the log says where the saga stands.
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(
        (replay.definition.as_str(), replay.version),
        ("in-flight", 3)
    );
    assert_eq!(replay.phase, Phase::Forward);
    assert_eq!(replay.steps[&0].action, Progress::Completed);
    assert_eq!(replay.steps[&0].output, Some(serde_json::Value::Null));
    assert_eq!(replay.steps[&1].action, Progress::InFlight);
    assert_eq!(replay.to_compensate(), [1, 0]);

    // The log survives a trip through JSON, as a durable store would keep it.
    let json = serde_json::to_string(&log).unwrap();
    let back: Vec<LogEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, log);
    drop(run);
}

#[test]
fn replay_rejects_a_log_that_is_not_a_saga_log() {
    assert!(Replay::from_log(&[]).is_err());
    let finished = LogEntry::Finished {
        outcome: OutcomeKind::Completed,
    };
    let err = Replay::from_log(&[finished]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "saga log entry 0: the first entry must be `started`"
    );
}

#[tokio::test(start_paused = true)]
async fn an_action_whose_start_cannot_be_logged_never_runs_and_the_run_stops_there() {
    let ran = Ran::default();
    let store = FaultyStore::new(InMemoryStore::keep_all()).every("step_started", Fault::Fail);
    // `a`'s start is tried 3 times (the default store policy), and fails each time.
    let mut b = Saga::<u32>::builder("store-down").store(store.clone());
    b.step(recorded(&ran, "a", "undo a"));
    b.step(recorded(&ran, "b", "undo b"));
    let out = b.build().unwrap().run_with_id("s-1", 0).await;
    let Err(SagaError::Unsettled(unsettled)) = out else {
        panic!("{out:?}")
    };
    assert_eq!(unsettled.entry(), "step_started");
    assert!(ran.get().is_empty(), "nothing ran, nothing was undone");
    assert_eq!(store.injected().len(), 3, "tried per the store policy");
    let log = store.inner().log(&"s-1".into());
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(Replay::from_log(&log).unwrap().phase, Phase::Forward);
}

#[tokio::test(start_paused = true)]
async fn a_saga_whose_start_the_store_refuses_runs_nothing_and_says_so() {
    let ran = Ran::default();
    let store = FaultyStore::new(InMemoryStore::new()).every("started", Fault::Refuse);
    let mut b = Saga::<u32>::builder("no-start").store(store.clone());
    b.step(recorded(&ran, "a", "undo a"));
    let out = b.build().unwrap().run(0).await;
    assert!(
        matches!(out, Err(SagaError::Store(ref e)) if e.is_refused()),
        "{out:?}"
    );
    assert!(ran.get().is_empty());
    assert_eq!(store.injected().len(), 1, "a refusal is not tried again");
    assert!(store.inner().ids().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_does_not_abort_the_run() {
    let ran = Ran::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let mut b = Saga::<u32>::builder("listened")
        .on_event(|_| panic!("listener bug"))
        .on_event(move |e| ev.lock().unwrap().push(event_name(e)));
    b.step(recorded(&ran, "a", "undo a"));
    b.step(Step::new("b", |_ctx| async {
        Err::<(), BoxError>("no".into())
    }));
    let outcome = b.build().unwrap().run(0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)), "{outcome:?}");
    assert_eq!(ran.get(), ["a", "undo a"]);
    assert_eq!(
        events.lock().unwrap().last().map(String::as_str),
        Some("finished Compensated"),
        "the listener after the panicking one got every event"
    );
}

fn event_name(e: &Event) -> String {
    match e {
        Event::SagaStarted { .. } => "saga started".into(),
        Event::StepStarted { step, attempt, .. } => format!("{step} started #{attempt}"),
        Event::StepCompleted { step, .. } => format!("{step} completed"),
        Event::StepFailed {
            step, will_retry, ..
        } => format!("{step} failed, retry {will_retry}"),
        Event::StepRetrying { step, .. } => format!("{step} retrying"),
        Event::Compensating { .. } => "compensating".into(),
        Event::CompensationStarted { step, .. } => format!("undo {step} started"),
        Event::CompensationCompleted { step, .. } => format!("undo {step} completed"),
        Event::CompensationFailed { step, .. } => format!("undo {step} failed"),
        Event::Finished { outcome, .. } => format!("finished {outcome:?}"),
        _ => "other".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn every_transition_is_an_event() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let ran = Ran::default();
    let mut b =
        Saga::<u32>::builder("events").on_event(move |e| ev.lock().unwrap().push(event_name(e)));
    b.step(recorded(&ran, "a", "undo a"));
    b.step(
        Step::new("b", |_ctx| async { Err::<(), BoxError>("no".into()) })
            .retry(RetryPolicy::fixed(2, Duration::from_millis(1))),
    );
    let _ = b.build().unwrap().run(0).await.unwrap();
    assert_eq!(
        *events.lock().unwrap(),
        [
            "saga started",
            "a started #1",
            "a completed",
            "b started #1",
            "b failed, retry true",
            "b retrying",
            "b started #2",
            "b failed, retry false",
            "compensating",
            "undo a started",
            "undo a completed",
            "finished Compensated",
        ]
    );
}

/// An entry in a line: its kind, step and attempt, and the flags that decide recovery.
fn line(e: &LogEntry) -> String {
    match e {
        LogEntry::StepStarted { step, attempt } => format!("start {}#{attempt}", step.name),
        LogEntry::StepCompleted { step, attempt, .. } => format!("done {}#{attempt}", step.name),
        LogEntry::StepFailed {
            step,
            attempt,
            outcome_unknown,
            will_retry,
            ..
        } => format!(
            "failed {}#{attempt} unknown={outcome_unknown} retry={will_retry}",
            step.name
        ),
        LogEntry::Compensating {
            failed_step,
            reason,
        } => format!(
            "compensating after {:?}: {reason}",
            failed_step.as_ref().map(|s| (s.index, s.name.as_ref()))
        ),
        LogEntry::CompensationStarted { step, attempt } => {
            format!("undo start {}#{attempt}", step.name)
        }
        LogEntry::CompensationCompleted { step, attempt } => {
            format!("undo done {}#{attempt}", step.name)
        }
        LogEntry::CompensationFailed {
            step,
            attempt,
            will_retry,
            ..
        } => format!("undo failed {}#{attempt} retry={will_retry}", step.name),
        LogEntry::Finished { outcome } => format!("finished {outcome:?}"),
        other => other.kind().to_owned(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_whose_first_attempt_timed_out_is_undone_even_if_its_last_failed_for_sure() {
    let store = InMemoryStore::keep_all();
    let ran = Ran::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let mut b = Saga::<u32>::builder("pay")
        .store(store.clone())
        .on_event(move |e| ev.lock().unwrap().push(e.clone()));
    b.step(recorded(&ran, "a", "undo a"));
    let r = ran.clone();
    b.step(
        Step::new("b", |ctx| async move {
            if ctx.attempt() == 1 {
                // Hangs past its timeout: it may have charged.
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Err::<(), BoxError>("declined".into())
        })
        .compensate(move |_ctx| {
            let r = r.clone();
            async move {
                r.push("undo b");
                Ok::<_, BoxError>(())
            }
        })
        .timeout(Duration::from_secs(1))
        .retry(RetryPolicy::fixed(2, Duration::from_secs(2))),
    );
    let outcome = b.build().unwrap().run_with_id("p-1", 0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)), "{outcome:?}");
    assert_eq!(ran.get(), ["a", "undo b", "undo a"]);
    let log: Vec<String> = store.log(&"p-1".into()).iter().map(line).collect();
    assert_eq!(
        log,
        [
            "started",
            "start a#1",
            "done a#1",
            "start b#1",
            "failed b#1 unknown=true retry=true",
            "start b#2",
            "failed b#2 unknown=false retry=false",
            "compensating after Some((1, \"b\")): step `b` failed after 2 attempt(s): returned an error: declined",
            "undo start b#1",
            "undo done b#1",
            "undo start a#1",
            "undo done a#1",
            "finished Compensated",
        ]
    );
    let retrying: Vec<(u32, Duration)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::StepRetrying { attempt, delay, .. } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(retrying, [(2, Duration::from_secs(2))]);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_while_a_start_is_being_recorded_abandons_that_attempt_as_possibly_applied() {
    let ran = Ran::default();
    // Append 0 is `started`; append 1, a's first start, fails and is tried again after 10 s.
    let store = FaultyStore::new(InMemoryStore::keep_all()).at(1, Fault::Fail);
    let mut b = Saga::<u32>::builder("late")
        .store(store.clone())
        .store_retry(RetryPolicy::fixed(3, Duration::from_secs(10)))
        .deadline(Duration::from_secs(5));
    b.step(recorded(&ran, "a", "undo a"));
    let outcome = b.build().unwrap().run_with_id("l-1", 0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)), "{outcome:?}");
    // The start may have been written although the store said no: a is undone, never run.
    assert_eq!(ran.get(), ["undo a"]);
    let log: Vec<String> = store.inner().log(&"l-1".into()).iter().map(line).collect();
    assert_eq!(
        log,
        [
            "started",
            "failed a#1 unknown=true retry=false",
            "compensating after None: saga deadline of 5s exceeded",
            "undo start a#1",
            "undo done a#1",
            "finished Compensated",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_between_attempts_after_a_sure_failure_abandons_the_step_as_not_applied() {
    let store = InMemoryStore::keep_all();
    let ran = Ran::default();
    let mut b = Saga::<u32>::builder("late")
        .store(store.clone())
        .deadline(Duration::from_secs(5));
    b.step(recorded(&ran, "a", "undo a"));
    let r = ran.clone();
    b.step(
        Step::new("b", |_ctx| async { Err::<(), BoxError>("declined".into()) })
            .compensate(move |_ctx| {
                let r = r.clone();
                async move {
                    r.push("undo b");
                    Ok::<_, BoxError>(())
                }
            })
            .retry(RetryPolicy::fixed(2, Duration::from_secs(10))),
    );
    let outcome = b.build().unwrap().run_with_id("l-2", 0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)), "{outcome:?}");
    assert_eq!(ran.get(), ["a", "undo a"]);
    let log: Vec<String> = store.log(&"l-2".into()).iter().map(line).collect();
    assert_eq!(
        log[3..6],
        [
            "start b#1",
            "failed b#1 unknown=false retry=true",
            "failed b#1 unknown=false retry=false",
        ]
    );
}
