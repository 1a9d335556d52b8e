//! Recovery: a saga left unfinished by a process that stopped is resumed from its log by a
//! `Registry`, by the rules of the module docs; version mismatches are reported, never guessed;
//! parked sagas wait for an operator.
#![cfg(feature = "saga")]

use bulwark::BoxError;
use bulwark::saga::{
    Cause, Event, InMemoryStore, LogEntry, Outcome, OutcomeKind, Phase, RecoveryError, Registry,
    Replay, Resume, RetryPolicy, Saga, SagaId, SagaStore, Step, StepError, StepRef,
};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support as saga_support;

/// What the steps and compensations did, in order.
#[derive(Clone, Default)]
struct Probe(Arc<Mutex<Vec<String>>>);

impl Probe {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// `a` (input × 10) → `b` (a + 1, resumed per `b_policy`) → `c`; each records what it did.
fn saga(store: &InMemoryStore, version: u32, b_policy: Resume, probe: &Probe) -> Saga<u32> {
    let mut s = Saga::<u32>::builder("order")
        .version(version)
        .store(store.clone());
    let (p1, p2) = (probe.clone(), probe.clone());
    let a = s.step(
        Step::new("a", move |ctx| {
            let (p, out) = (p1.clone(), ctx.input() * 10);
            async move {
                p.push(format!("a#{}", ctx.attempt()));
                Ok::<_, BoxError>(out)
            }
        })
        .compensate(move |ctx| {
            let p = p2.clone();
            let text = format!("undo a {:?}", ctx.output());
            async move {
                p.push(text);
                Ok::<_, BoxError>(())
            }
        }),
    );
    let (p1, p2) = (probe.clone(), probe.clone());
    s.step(
        Step::new("b", move |ctx| {
            let p = p1.clone();
            let text = format!("b#{} {}", ctx.attempt(), ctx.idempotency_key());
            let a = ctx.output(&a).copied();
            async move {
                p.push(text);
                Ok::<_, BoxError>(a? + 1)
            }
        })
        .compensate(move |ctx| {
            let p = p2.clone();
            let text = format!("undo b {:?} {}", ctx.output(), ctx.action_key());
            async move {
                p.push(text);
                Ok::<_, BoxError>(())
            }
        })
        .on_resume(b_policy),
    );
    let p1 = probe.clone();
    s.step(Step::new("c", move |_ctx| {
        let p = p1.clone();
        async move {
            p.push("c".into());
            Ok::<_, BoxError>(())
        }
    }));
    s.build().unwrap()
}

fn at(index: u32, name: &'static str) -> StepRef {
    StepRef {
        index,
        name: Cow::Borrowed(name),
    }
}

fn started(version: u32) -> LogEntry {
    LogEntry::Started {
        definition: Cow::Borrowed("order"),
        version,
        input: serde_json::json!(4),
    }
}

fn step_started(index: u32, name: &'static str, attempt: u32) -> LogEntry {
    LogEntry::StepStarted {
        step: at(index, name),
        attempt,
    }
}

fn step_completed(index: u32, name: &'static str, output: serde_json::Value) -> LogEntry {
    LogEntry::StepCompleted {
        step: at(index, name),
        attempt: 1,
        output,
    }
}

/// The log a process left when it stopped after `a` completed and `b` started.
fn stopped_in_b() -> Vec<LogEntry> {
    vec![
        started(1),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!(40)),
        step_started(1, "b", 1),
    ]
}

/// Writes `log` as a process that stopped would have left it (its claim expired).
async fn write(store: &InMemoryStore, id: &str, log: Vec<LogEntry>) {
    saga_support::write_log(store, id, &log).await;
}

async fn recover_one(registry: &Registry) -> Outcome {
    let mut recovered = registry.recover().await.unwrap();
    assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
    assert_eq!(recovered.resumed.len(), 1);
    recovered.resumed.pop().unwrap().await.unwrap()
}

fn registry(store: &InMemoryStore, sagas: &[&Saga<u32>]) -> Registry {
    let mut registry = Registry::new(store.clone());
    for saga in sagas {
        registry.register(saga).unwrap();
    }
    registry
}

fn phase(store: &InMemoryStore, id: &str) -> Phase {
    Replay::from_log(&store.log(&id.into())).unwrap().phase
}

#[tokio::test(start_paused = true)]
async fn a_step_in_flight_declared_rerunnable_runs_again_with_the_same_key_and_the_saga_goes_on() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Rerun, &probe);
    write(&store, "o-1", stopped_in_b()).await;

    let Outcome::Completed(outputs) = recover_one(&registry(&store, &[&saga])).await else {
        panic!("not completed")
    };
    // `a` is not run again; `b` reads a's output from the log, under the same key, attempt 2.
    assert_eq!(probe.get(), ["b#2 o-1/b", "c"]);
    assert!(format!("{outputs:?}").contains("3 of 3"));
    assert_eq!(
        phase(&store, "o-1"),
        Phase::Finished(OutcomeKind::Completed)
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_in_flight_not_declared_rerunnable_is_compensated_instead() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Compensate, &probe);
    write(&store, "o-1", stopped_in_b()).await;

    let Outcome::Compensated(c) = recover_one(&registry(&store, &[&saga])).await else {
        panic!("not compensated")
    };
    assert!(matches!(c.cause(), Cause::Recovered(why) if why.contains("step `b` was in flight")));
    // b's compensation runs without an output, by b's key; a's gets its output from the log.
    assert_eq!(probe.get(), ["undo b None o-1/b", "undo a Some(40)"]);
    assert_eq!(
        phase(&store, "o-1"),
        Phase::Finished(OutcomeKind::Compensated)
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_waiting_to_retry_goes_on_retrying_whatever_its_policy() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Compensate, &probe);
    let mut log = stopped_in_b();
    log.push(LogEntry::StepFailed {
        step: at(1, "b"),
        attempt: 1,
        error: "unavailable".into(),
        outcome_unknown: false,
        will_retry: true,
    });
    write(&store, "o-1", log).await;
    let outcome = recover_one(&registry(&store, &[&saga])).await;
    assert!(matches!(outcome, Outcome::Completed(_)));
    assert_eq!(probe.get(), ["b#2 o-1/b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn a_saga_that_was_compensating_goes_on_and_skips_what_was_undone() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Rerun, &probe);
    let mut log = stopped_in_b();
    log.extend([
        step_completed(1, "b", serde_json::json!(41)),
        step_started(2, "c", 1),
        LogEntry::StepFailed {
            step: at(2, "c"),
            attempt: 1,
            error: "out of stock".into(),
            outcome_unknown: false,
            will_retry: false,
        },
        LogEntry::Compensating {
            failed_step: Some(at(2, "c")),
            reason: "step `c` failed: out of stock".into(),
        },
        LogEntry::CompensationStarted {
            step: at(1, "b"),
            attempt: 1,
        },
        LogEntry::CompensationCompleted {
            step: at(1, "b"),
            attempt: 1,
        },
        LogEntry::CompensationStarted {
            step: at(0, "a"),
            attempt: 1,
        },
    ]);
    write(&store, "o-1", log).await;
    let Outcome::Compensated(c) = recover_one(&registry(&store, &[&saga])).await else {
        panic!("not compensated")
    };
    assert!(matches!(c.cause(), Cause::Recovered(why) if why.contains("out of stock")));
    assert_eq!(probe.get(), ["undo a Some(40)"]);
}

#[tokio::test(start_paused = true)]
async fn a_saga_whose_steps_all_completed_finishes_without_running_anything() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Compensate, &probe);
    let mut log = stopped_in_b();
    log.extend([
        step_completed(1, "b", serde_json::json!(41)),
        step_started(2, "c", 1),
        step_completed(2, "c", serde_json::Value::Null),
    ]);
    write(&store, "o-1", log).await;
    let outcome = recover_one(&registry(&store, &[&saga])).await;
    assert!(matches!(outcome, Outcome::Completed(_)));
    assert!(probe.get().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_version_mismatch_is_reported_and_the_saga_left_as_it_was() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let v2 = saga(&store, 2, Resume::Rerun, &probe);
    write(&store, "o-1", stopped_in_b()).await;

    let recovered = registry(&store, &[&v2]).recover().await.unwrap();
    assert!(recovered.resumed.is_empty());
    let [
        RecoveryError::VersionMismatch {
            id,
            logged: 1,
            registered,
            ..
        },
    ] = recovered.failed.as_slice()
    else {
        panic!("{:?}", recovered.failed)
    };
    assert_eq!((id.as_str(), registered.as_slice()), ("o-1", &[2][..]));
    assert_eq!(store.log(&"o-1".into()), stopped_in_b());
    assert!(probe.get().is_empty());

    // With the old version registered beside the new one, it resumes with the old one.
    let v1 = saga(&store, 1, Resume::Rerun, &probe);
    let outcome = recover_one(&registry(&store, &[&v2, &v1])).await;
    assert!(matches!(outcome, Outcome::Completed(_)));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_definition_or_a_log_that_does_not_match_is_reported() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Rerun, &probe);
    let mut other = stopped_in_b();
    other[0] = LogEntry::Started {
        definition: Cow::Borrowed("refund"),
        version: 1,
        input: serde_json::json!(4),
    };
    write(&store, "refund-1", other).await;
    let mut renamed = stopped_in_b();
    renamed[3] = step_started(1, "bill", 1);
    write(&store, "renamed-1", renamed).await;
    let mut bad_output = stopped_in_b();
    bad_output[2] = step_completed(0, "a", serde_json::json!("forty"));
    write(&store, "bad-1", bad_output).await;

    let mut recovered = registry(&store, &[&saga]).recover().await.unwrap();
    assert!(recovered.resumed.is_empty());
    recovered.failed.sort_by_key(|e| e.to_string());
    let texts: Vec<String> = recovered.failed.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        texts,
        [
            "saga `bad-1`: the logged output of step `a` does not deserialize",
            "saga `refund-1` was started by definition `refund`, which is not registered",
            "saga `renamed-1`: the log does not match `order` version 1: step #1 is `bill` in the log, `b` in the definition",
        ]
    );
    assert!(probe.get().is_empty());
}

#[test]
fn a_definition_is_registered_once_per_version() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    let saga = saga(&store, 1, Resume::Rerun, &probe);
    let mut registry = registry(&store, &[&saga]);
    let e = registry.register(&saga).unwrap_err();
    assert!(matches!(e, RecoveryError::Duplicate { version: 1, .. }));
}

/// A saga whose compensation of `a` fails until `fixed` is set.
fn stuck_saga(store: &InMemoryStore, failures: &Arc<AtomicU32>) -> Saga<u32> {
    let mut s = Saga::<u32>::builder("stuck").store(store.clone());
    let failures = failures.clone();
    s.step(
        Step::new("a", |_ctx| async { Ok::<_, BoxError>(()) })
            .compensate(move |_ctx| {
                let left = failures.load(Ordering::SeqCst);
                if left > 0 {
                    failures.store(left - 1, Ordering::SeqCst);
                }
                async move {
                    if left > 0 {
                        Err::<(), BoxError>("refund service down".into())
                    } else {
                        Ok(())
                    }
                }
            })
            .compensation_retry(RetryPolicy::fixed(2, Duration::from_secs(1))),
    );
    s.step(Step::new("b", |_ctx| async {
        Err::<(), BoxError>("declined".into())
    }));
    s.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_parked_saga_stays_parked_until_an_operator_retries_its_compensation() {
    let store = InMemoryStore::keep_all();
    let failures = Arc::new(AtomicU32::new(2));
    let saga = stuck_saga(&store, &failures);
    let outcome = saga.run_with_id("p-1", 0).await.unwrap();
    assert!(matches!(outcome, Outcome::Parked(_)));

    let registry = registry_of(&store, &saga);
    let recovered = registry.recover().await.unwrap();
    assert!(recovered.resumed.is_empty() && recovered.failed.is_empty());
    let parked = registry.parked().await.unwrap();
    assert!(parked.failed.is_empty());
    assert_eq!(parked.sagas.len(), 1);
    assert_eq!(parked.sagas[0].id, SagaId::new("p-1"));
    assert_eq!(parked.sagas[0].replay.to_compensate(), [0]);

    // The refund service is back: the operator retries.
    let run = registry
        .retry_compensation(&"p-1".into(), "refund service restored")
        .await
        .unwrap();
    assert!(matches!(run.await.unwrap(), Outcome::Compensated(_)));
    assert!(registry.parked().await.unwrap().sagas.is_empty());
    let log = store.log(&"p-1".into());
    assert!(
        log.iter()
            .any(|e| matches!(e, LogEntry::Reopened { note } if note == "refund service restored"))
    );
    assert_eq!(
        phase(&store, "p-1"),
        Phase::Finished(OutcomeKind::Compensated)
    );

    // Retrying a saga that is not parked records nothing.
    let e = registry
        .retry_compensation(&"p-1".into(), "again")
        .await
        .unwrap_err();
    assert!(matches!(e, RecoveryError::NotParked { .. }));
    assert_eq!(store.log(&"p-1".into()).len(), log.len());
}

fn registry_of(store: &InMemoryStore, saga: &Saga<u32>) -> Registry {
    let mut registry = Registry::new(store.clone());
    registry.register(saga).unwrap();
    registry
}

#[tokio::test(start_paused = true)]
async fn a_parked_saga_marked_resolved_is_finished_for_good() {
    let store = InMemoryStore::keep_all();
    let saga = stuck_saga(&store, &Arc::new(AtomicU32::new(u32::MAX)));
    let _ = saga.run_with_id("p-1", 0).await.unwrap();
    let registry = registry_of(&store, &saga);
    registry
        .mark_resolved(&"p-1".into(), "refunded by hand, ticket 12")
        .await
        .unwrap();
    assert_eq!(phase(&store, "p-1"), Phase::Resolved);
    assert!(registry.parked().await.unwrap().sagas.is_empty());
    assert!(store.list_unfinished().await.unwrap().is_empty());
    let e = registry
        .mark_resolved(&"p-1".into(), "twice")
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        RecoveryError::NotParked {
            phase: Phase::Resolved,
            ..
        }
    ));
    let e = registry
        .mark_resolved(&"nobody".into(), "?")
        .await
        .unwrap_err();
    assert!(matches!(e, RecoveryError::NotFound { .. }));
}

#[test]
fn a_saga_whose_process_stopped_mid_step_is_resumed_by_the_next_one() {
    let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
    // The first process: `b` hangs, and the process stops (its runtime is dropped).
    let hang = Arc::new(AtomicU32::new(1));
    let first = hanging_saga(&store, &probe, &hang);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let id = first.run_with_id("o-9", 3).detach().unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(store.list_unfinished().await.unwrap(), [id]);
    });
    drop(rt);
    assert_eq!(probe.get(), ["a", "b#1"]);

    // The next process registers the same definition and recovers. The first process's claim
    // on the saga has not expired yet: it waits for it, then resumes the saga.
    let second = hanging_saga(&store, &probe, &hang);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let registry = registry_of(&store, &second);
        let recovered = registry.recover().await.unwrap();
        assert!(recovered.resumed.is_empty());
        let [held] = &recovered.held[..] else {
            panic!("{recovered:?}")
        };
        assert_eq!(held.id, SagaId::new("o-9"));
        tokio::time::sleep(held.expires_in).await;
        recover_one(&registry).await
    });
    assert!(matches!(outcome, Outcome::Completed(_)));
    assert_eq!(probe.get(), ["a", "b#1", "b#2"]);
}

/// `a` → `b` (rerunnable; hangs while `hang` is above zero).
fn hanging_saga(store: &InMemoryStore, probe: &Probe, hang: &Arc<AtomicU32>) -> Saga<u32> {
    let mut s = Saga::<u32>::builder("hanging").store(store.clone());
    let p = probe.clone();
    s.step(Step::new("a", move |_ctx| {
        p.push("a".into());
        async { Ok::<_, BoxError>(()) }
    }));
    let (p, hang) = (probe.clone(), hang.clone());
    s.step(
        Step::new("b", move |ctx| {
            p.push(format!("b#{}", ctx.attempt()));
            let hangs = hang.fetch_sub(1, Ordering::SeqCst) > 0;
            async move {
                if hangs {
                    std::future::pending::<()>().await;
                }
                Ok::<_, BoxError>(())
            }
        })
        .on_resume(Resume::Rerun),
    );
    s.build().unwrap()
}

/// The log of a saga that turned back after `c` failed and stopped with b's compensation in flight.
fn stopped_undoing_b() -> Vec<LogEntry> {
    let mut log = stopped_in_b();
    log.extend([
        step_completed(1, "b", serde_json::json!(41)),
        step_started(2, "c", 1),
        LogEntry::StepFailed {
            step: at(2, "c"),
            attempt: 1,
            error: "out of stock".into(),
            outcome_unknown: false,
            will_retry: false,
        },
        LogEntry::Compensating {
            failed_step: Some(at(2, "c")),
            reason: "step `c` failed".into(),
        },
        LogEntry::CompensationStarted {
            step: at(1, "b"),
            attempt: 1,
        },
    ]);
    log
}

#[tokio::test(start_paused = true)]
async fn a_compensation_in_flight_runs_again_unless_its_step_says_park() {
    for (policy, expect) in [
        (
            Resume::Compensate,
            vec!["undo b Some(41) o-1/b", "undo a Some(40)"],
        ),
        (
            Resume::Rerun,
            vec!["undo b Some(41) o-1/b", "undo a Some(40)"],
        ),
        (Resume::Park, vec![]),
    ] {
        let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
        let saga = saga(&store, 1, policy, &probe);
        write(&store, "o-1", stopped_undoing_b()).await;
        let registry = registry(&store, &[&saga]);
        let outcome = recover_one(&registry).await;
        assert_eq!(probe.get(), expect, "{policy:?}");
        if policy != Resume::Park {
            assert!(matches!(outcome, Outcome::Compensated(_)), "{policy:?}");
            continue;
        }
        // Not run twice: parked, b's compensation in doubt, a's left pending.
        let Outcome::Parked(parked) = outcome else {
            panic!("not parked")
        };
        assert_eq!(parked.stuck()[0].step(), "b");
        assert!(matches!(parked.stuck()[0].error(), StepError::InDoubt));
        assert_eq!(parked.pending(), ["a"]);
        // The operator checked: b's refund did not go through. Retry runs it, then a's.
        let run = registry
            .retry_compensation(&"o-1".into(), "checked: b not refunded")
            .await
            .unwrap();
        assert!(matches!(run.await.unwrap(), Outcome::Compensated(_)));
        assert_eq!(probe.get(), ["undo b Some(41) o-1/b", "undo a Some(40)"]);
    }
}

#[tokio::test(start_paused = true)]
async fn retrying_a_parked_saga_with_another_version_records_nothing() {
    let store = InMemoryStore::keep_all();
    let saga = stuck_saga(&store, &Arc::new(AtomicU32::new(u32::MAX)));
    let _ = saga.run_with_id("p-1", 0).await.unwrap();
    let before = store.log(&"p-1".into());

    let mut v2 = Saga::<u32>::builder("stuck")
        .version(2)
        .store(store.clone());
    v2.step(Step::new("a", |_ctx| async { Ok::<_, BoxError>(()) }));
    let registry = registry(&store, &[&v2.build().unwrap()]);
    let e = registry
        .retry_compensation(&"p-1".into(), "try v2")
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        RecoveryError::VersionMismatch { logged: 1, .. }
    ));
    assert_eq!(store.log(&"p-1".into()), before);
    assert_eq!(registry.parked().await.unwrap().sagas.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_saga_says_so_in_its_events_and_counts_in_the_metrics() {
    let store = InMemoryStore::keep_all();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut s = Saga::<u32>::builder("order")
        .store(store.clone())
        .on_event(move |e| seen.lock().unwrap().push(e.clone()));
    for name in ["a", "b", "c"] {
        s.step(Step::new(name, |_ctx| async { Ok::<_, BoxError>(1u32) }).on_resume(Resume::Rerun));
    }
    let saga = s.build().unwrap();
    write(&store, "o-1", stopped_in_b()).await;
    let outcome = recover_one(&registry(&store, &[&saga])).await;
    assert!(matches!(outcome, Outcome::Completed(_)));
    let events = events.lock().unwrap();
    assert!(
        matches!(&events[0], Event::SagaResumed { name, saga } if name == "order" && saga.as_str() == "o-1")
    );
    assert!(matches!(
        &events[1],
        Event::StepStarted {
            step: "b",
            attempt: 2,
            ..
        }
    ));
    let metrics = saga.metrics();
    assert_eq!(
        (metrics.started, metrics.completed, metrics.in_flight),
        (1, 1, 0)
    );
}

/// `a` (input × 10) → `b`, which always fails (2 attempts per run, 1 s apart); both record
/// what they did and what they undid.
fn failing_b(store: &InMemoryStore, probe: &Probe) -> Saga<u32> {
    let mut s = Saga::<u32>::builder("order").store(store.clone());
    let (p1, p2) = (probe.clone(), probe.clone());
    s.step(
        Step::new("a", move |ctx| {
            let (p, out) = (p1.clone(), ctx.input() * 10);
            async move {
                p.push(format!("a#{}", ctx.attempt()));
                Ok::<_, BoxError>(out)
            }
        })
        .compensate(move |ctx| {
            let p = p2.clone();
            let text = format!("undo a {:?}", ctx.output());
            async move {
                p.push(text);
                Ok::<_, BoxError>(())
            }
        }),
    );
    let (p1, p2) = (probe.clone(), probe.clone());
    s.step(
        Step::new("b", move |ctx| {
            p1.push(format!("b#{}", ctx.attempt()));
            async { Err::<(), BoxError>("declined".into()) }
        })
        .compensate(move |_ctx| {
            p2.push("undo b".into());
            async { Ok::<_, BoxError>(()) }
        })
        .retry(RetryPolicy::fixed(2, Duration::from_secs(1))),
    );
    s.build().unwrap()
}

/// A process stopped after `b`'s first attempt failed (its outcome known or not), with
/// another attempt to follow or not.
fn stopped_after_b_failed(outcome_unknown: bool, will_retry: bool) -> Vec<LogEntry> {
    let mut log = stopped_in_b();
    log.push(LogEntry::StepFailed {
        step: at(1, "b"),
        attempt: 1,
        error: "declined".into(),
        outcome_unknown,
        will_retry,
    });
    log
}

#[tokio::test(start_paused = true)]
async fn a_step_that_had_failed_for_good_is_not_run_again_and_the_saga_turns_back() {
    for (unknown, undone) in [
        (false, vec!["undo a Some(40)"]),
        // Its last attempt may have taken effect (it timed out): it is undone too.
        (true, vec!["undo b", "undo a Some(40)"]),
    ] {
        let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
        let saga = failing_b(&store, &probe);
        write(&store, "o-1", stopped_after_b_failed(unknown, false)).await;
        let Outcome::Compensated(c) = recover_one(&registry(&store, &[&saga])).await else {
            panic!("not compensated")
        };
        assert!(
            matches!(c.cause(), Cause::Recovered(why) if why == "step `b` had failed"),
            "{:?}",
            c.cause()
        );
        assert_eq!(probe.get(), undone, "outcome unknown: {unknown}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_waiting_to_retry_is_undone_after_its_last_retry_only_if_an_attempt_may_have_taken_effect()
 {
    for (unknown, expect) in [
        (false, vec!["b#2", "b#3", "undo a Some(40)"]),
        (true, vec!["b#2", "b#3", "undo b", "undo a Some(40)"]),
    ] {
        let (store, probe) = (InMemoryStore::keep_all(), Probe::default());
        let saga = failing_b(&store, &probe);
        write(&store, "o-1", stopped_after_b_failed(unknown, true)).await;
        let outcome = recover_one(&registry(&store, &[&saga])).await;
        assert!(matches!(outcome, Outcome::Compensated(_)), "{outcome:?}");
        assert_eq!(
            probe.get(),
            expect,
            "first attempt's outcome unknown: {unknown}"
        );
    }
}
