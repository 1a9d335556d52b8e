//! The saga log and the store contract: what is recorded, when, and what a failing store does;
//! the events of a run.
#![cfg(feature = "saga")]

use bulwark::BoxError;
use bulwark::saga::{
    Cause, Event, InMemoryStore, LogEntry, Outcome, OutcomeKind, Phase, Progress, Replay,
    RetryPolicy, Saga, SagaError, SagaId, SagaStore, Step, StepError, StoreError, StoreFuture,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A store that fails the appends `fail` picks.
#[derive(Debug)]
struct Flaky {
    inner: InMemoryStore,
    fail: fn(&LogEntry) -> bool,
}

impl SagaStore for Flaky {
    fn append<'a>(&'a self, id: &'a SagaId, entry: LogEntry) -> StoreFuture<'a, ()> {
        if (self.fail)(&entry) {
            return Box::pin(async { Err(StoreError::new("disk full")) });
        }
        self.inner.append(id, entry)
    }
    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        self.inner.load(id)
    }
    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        self.inner.list_unfinished()
    }
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
async fn an_action_whose_start_cannot_be_logged_never_runs() {
    let ran = Ran::default();
    let fail = |e: &LogEntry| matches!(e, LogEntry::StepStarted { step, .. } if step.name == "b");
    let store = Flaky {
        inner: InMemoryStore::keep_all(),
        fail,
    };
    let mut b = Saga::<u32>::builder("store-down").store(store);
    b.step(recorded(&ran, "a", "undo a"));
    b.step(recorded(&ran, "b", "undo b"));
    let Outcome::Compensated(c) = b.build().unwrap().run(0).await.unwrap() else {
        panic!()
    };
    let Cause::Step(f) = c.cause() else { panic!() };
    assert_eq!(f.step(), "b");
    assert!(matches!(f.error(), StepError::Store(_)));
    assert_eq!(ran.get(), ["a", "undo a"]);
}

#[tokio::test(start_paused = true)]
async fn a_saga_whose_start_cannot_be_logged_runs_nothing() {
    let ran = Ran::default();
    let fail = |e: &LogEntry| matches!(e, LogEntry::Started { .. });
    let mut b = Saga::<u32>::builder("no-start").store(Flaky {
        inner: InMemoryStore::new(),
        fail,
    });
    b.step(recorded(&ran, "a", "undo a"));
    let out = b.build().unwrap().run(0).await;
    assert!(matches!(out, Err(SagaError::Store(_))));
    assert!(ran.get().is_empty());
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
