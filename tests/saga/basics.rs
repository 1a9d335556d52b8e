//! Saga orchestrator: the forward path, compensation in reverse, parallel groups, retries,
//! timeouts, parking, cancellation and idempotency keys. All in paused time.
#![cfg(feature = "saga")]

use bulwark::BoxError;
use bulwark::backoff::Backoff;
use bulwark::saga::{
    Cause, Event, InMemoryStore, LogEntry, Outcome, OutcomeKind, RetryPolicy, Saga, SagaBuilder,
    SagaId, Step, StepError,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What steps and compensations did, in order.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<Vec<String>>>);

impl Ledger {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Adds a step named `name` that records "do:name" (or fails with "boom" if `fail`) and whose
/// compensation records "undo:name".
fn add_step(b: &mut SagaBuilder<u32>, ledger: &Ledger, name: &'static str, fail: bool) {
    let (l1, l2) = (ledger.clone(), ledger.clone());
    b.step(
        Step::new(name, move |_ctx| {
            let l = l1.clone();
            async move {
                if fail {
                    return Err::<u32, BoxError>("boom".into());
                }
                l.push(format!("do:{name}"));
                Ok(1)
            }
        })
        .compensate(move |_ctx| {
            let l = l2.clone();
            async move {
                l.push(format!("undo:{name}"));
                Ok::<_, BoxError>(())
            }
        }),
    );
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

#[tokio::test(start_paused = true)]
async fn happy_path_completes_with_typed_outputs() {
    let store = InMemoryStore::keep_all();
    let mut b = Saga::<u32>::builder("sum").store(store.clone());
    let double = b.step(Step::new("double", |ctx| async move {
        Ok::<_, BoxError>(*ctx.input() * 2)
    }));
    let text = b.step(Step::new("text", move |ctx| async move {
        let doubled: &u32 = ctx.output(&double)?;
        Ok::<_, BoxError>(format!("{doubled}!"))
    }));
    let saga = b.build().unwrap();
    let run = saga.run_with_id(SagaId::new("s-1"), 21);
    assert_eq!(run.id().as_str(), "s-1");
    let Outcome::Completed(outputs) = run.await.unwrap() else {
        panic!("expected completion")
    };
    let metrics = saga.metrics();
    assert_eq!(
        (metrics.started, metrics.completed, metrics.in_flight),
        (1, 1, 0)
    );
    assert_eq!(outputs.get(&double), Some(&42));
    assert_eq!(outputs.get(&text).map(String::as_str), Some("42!"));

    let log = store.log(&SagaId::new("s-1"));
    assert!(
        matches!(&log[0], LogEntry::Started { definition, version: 1, .. } if definition == "sum")
    );
    let kinds: Vec<_> = log.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "started",
            "step_started",
            "step_completed",
            "step_started",
            "step_completed",
            "finished"
        ]
    );
    assert!(matches!(&log[2], LogEntry::StepCompleted { output, .. } if *output == 42));
    assert!(matches!(
        log[5],
        LogEntry::Finished {
            outcome: OutcomeKind::Completed
        }
    ));
}

fn kind(e: &LogEntry) -> &'static str {
    match e {
        LogEntry::Started { .. } => "started",
        LogEntry::StepStarted { .. } => "step_started",
        LogEntry::StepCompleted { .. } => "step_completed",
        LogEntry::StepFailed { .. } => "step_failed",
        LogEntry::Compensating { .. } => "compensating",
        LogEntry::CompensationStarted { .. } => "compensation_started",
        LogEntry::CompensationCompleted { .. } => "compensation_completed",
        LogEntry::CompensationFailed { .. } => "compensation_failed",
        LogEntry::Finished { .. } => "finished",
        _ => "other",
    }
}

#[tokio::test(start_paused = true)]
async fn failure_at_each_position_compensates_exactly_the_completed_steps_in_reverse_once() {
    for failing in 0..NAMES.len() {
        let ledger = Ledger::default();
        let mut b = Saga::<u32>::builder("chain");
        for (i, name) in NAMES.iter().enumerate() {
            add_step(&mut b, &ledger, name, i == failing);
        }
        let outcome = b.build().unwrap().run(0).await.unwrap();
        let Outcome::Compensated(c) = outcome else {
            panic!("expected compensation")
        };
        let Cause::Step(failure) = c.cause() else {
            panic!("expected a step failure")
        };
        assert_eq!(failure.step(), NAMES[failing]);
        assert_eq!(failure.attempts(), 1);

        let mut expected: Vec<String> =
            NAMES[..failing].iter().map(|n| format!("do:{n}")).collect();
        expected.extend(NAMES[..failing].iter().rev().map(|n| format!("undo:{n}")));
        assert_eq!(ledger.entries(), expected, "failing step {failing}");
        assert_eq!(
            c.compensated(),
            &NAMES[..failing].iter().rev().copied().collect::<Vec<_>>()[..]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn parallel_group_runs_together_and_compensates_together() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("fan-out");
    add_step(&mut b, &ledger, "first", false);
    let slow = |name: &'static str, ledger: &Ledger| {
        let (l1, l2) = (ledger.clone(), ledger.clone());
        Step::new(name, move |_ctx| {
            let l = l1.clone();
            async move {
                l.push(format!("start:{name}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                l.push(format!("end:{name}"));
                Ok::<_, BoxError>(())
            }
        })
        .compensate(move |_ctx| {
            let l = l2.clone();
            async move {
                l.push(format!("undo-start:{name}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                l.push(format!("undo-end:{name}"));
                Ok::<_, BoxError>(())
            }
        })
    };
    b.parallel(|g| {
        g.step(slow("x", &ledger));
        g.step(slow("y", &ledger));
    });
    add_step(&mut b, &ledger, "last", true);
    let outcome = b.build().unwrap().run(0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)));
    let e = ledger.entries();
    let pos = |s: &str| e.iter().position(|x| x == s).unwrap();
    // Both group members started before either finished, forward and backward.
    assert!(pos("start:y") < pos("end:x") && pos("start:x") < pos("end:y"));
    assert!(pos("undo-start:y") < pos("undo-end:x") && pos("undo-start:x") < pos("undo-end:y"));
    // The group is undone after the later steps and before the earlier ones.
    assert!(pos("undo-end:x") < pos("undo:first") && pos("undo-end:y") < pos("undo:first"));
    assert_eq!(e.iter().filter(|x| x.starts_with("undo")).count(), 5);
}

#[tokio::test(start_paused = true)]
async fn steps_of_one_group_cannot_read_each_other() {
    let mut b = Saga::<u32>::builder("peek");
    b.parallel(|g| {
        let a = g.step(Step::new("a", |_ctx| async { Ok::<_, BoxError>(1u32) }));
        g.step(Step::new("b", move |ctx| async move {
            ctx.output(&a)?;
            Ok::<_, BoxError>(())
        }));
    });
    let outcome = b.build().unwrap().run(0).await.unwrap();
    let Outcome::Compensated(c) = outcome else {
        panic!()
    };
    let Cause::Step(f) = c.cause() else { panic!() };
    assert_eq!(f.step(), "b");
    let StepError::Failed(e) = f.error() else {
        panic!()
    };
    assert!(e.to_string().contains("same parallel group"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn step_retries_then_succeeds_with_the_same_idempotency_key() {
    let keys = Ledger::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let mut b = Saga::<u32>::builder("flaky").on_event(move |e| ev.lock().unwrap().push(e.clone()));
    let k = keys.clone();
    b.step(
        Step::new("flaky", move |ctx| {
            let k = k.clone();
            async move {
                k.push(ctx.idempotency_key().to_string());
                if ctx.attempt() < 3 {
                    return Err::<(), BoxError>("try again".into());
                }
                Ok(())
            }
        })
        .retry(RetryPolicy::fixed(3, Duration::from_millis(10))),
    );
    let saga = b.build().unwrap();
    let outcome = saga.run_with_id(SagaId::new("order-9"), 0).await.unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)));
    assert_eq!(keys.entries(), vec!["order-9/flaky"; 3]);
    let events = events.lock().unwrap();
    let retries: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepRetrying { attempt, delay, .. } => {
                assert_eq!(*delay, Duration::from_millis(10));
                Some(*attempt)
            }
            _ => None,
        })
        .collect();
    assert_eq!(retries, [2, 3]);
}

#[tokio::test(start_paused = true)]
async fn step_exhausting_its_retries_fails_with_every_attempt_error() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("hopeless");
    add_step(&mut b, &ledger, "a", false);
    b.step(
        Step::new("b", |ctx| async move {
            Err::<(), BoxError>(format!("attempt {}", ctx.attempt()).into())
        })
        .retry(RetryPolicy::new(
            3,
            Backoff::exponential(Duration::from_millis(1))
                .build()
                .unwrap(),
        )),
    );
    let Outcome::Compensated(c) = b.build().unwrap().run(0).await.unwrap() else {
        panic!()
    };
    let Cause::Step(f) = c.cause() else { panic!() };
    assert_eq!(f.attempts(), 3);
    let texts: Vec<String> = f
        .earlier_errors()
        .iter()
        .chain([f.error()])
        .map(|e| std::error::Error::source(e).unwrap().to_string())
        .collect();
    assert_eq!(texts, ["attempt 1", "attempt 2", "attempt 3"]);
    assert_eq!(ledger.entries(), ["do:a", "undo:a"]);
}

#[tokio::test(start_paused = true)]
async fn step_timeout_compensates_the_timed_out_step_too() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("slow");
    add_step(&mut b, &ledger, "a", false);
    let (l1, l2) = (ledger.clone(), ledger.clone());
    b.step(
        Step::new("slow", move |_ctx| {
            let l = l1.clone();
            async move {
                l.push("do:slow");
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<u32, BoxError>(1)
            }
        })
        .compensate(move |ctx| {
            let l = l2.clone();
            async move {
                assert!(ctx.output().is_none(), "a timed-out step has no output");
                l.push(format!("undo:slow by {}", ctx.action_key()));
                Ok::<_, BoxError>(())
            }
        })
        .timeout(Duration::from_secs(1)),
    );
    let outcome = b
        .build()
        .unwrap()
        .run_with_id(SagaId::new("t"), 0)
        .await
        .unwrap();
    let Outcome::Compensated(c) = outcome else {
        panic!()
    };
    let Cause::Step(f) = c.cause() else { panic!() };
    assert!(matches!(f.error(), StepError::TimedOut(e) if e.after() == Duration::from_secs(1)));
    assert_eq!(
        ledger.entries(),
        ["do:a", "do:slow", "undo:slow by t/slow", "undo:a"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_returned_an_error_is_not_compensated() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("clean");
    add_step(&mut b, &ledger, "a", false);
    add_step(&mut b, &ledger, "b", true);
    let _ = b.build().unwrap().run(0).await.unwrap();
    assert_eq!(ledger.entries(), ["do:a", "undo:a"]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_step_is_a_failure_and_is_compensated() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("panics");
    add_step(&mut b, &ledger, "a", false);
    let l = ledger.clone();
    b.step(
        Step::new("p", |_ctx| async move {
            if true {
                panic!("kaboom");
            }
            Ok::<(), BoxError>(())
        })
        .compensate(move |_ctx| {
            let l = l.clone();
            async move {
                l.push("undo:p");
                Ok::<_, BoxError>(())
            }
        }),
    );
    let Outcome::Compensated(c) = b.build().unwrap().run(0).await.unwrap() else {
        panic!()
    };
    let Cause::Step(f) = c.cause() else { panic!() };
    assert!(matches!(f.error(), StepError::Panicked(m) if m == "kaboom"));
    assert_eq!(ledger.entries(), ["do:a", "undo:p", "undo:a"]);
}

fn failing_compensation(b: &mut SagaBuilder<u32>, ledger: &Ledger, name: &'static str, fails: u32) {
    let l = ledger.clone();
    b.step(
        Step::new(name, |_ctx| async { Ok::<_, BoxError>(()) })
            .compensate(move |ctx| {
                let l = l.clone();
                async move {
                    l.push(format!("undo:{name}#{}", ctx.attempt()));
                    if ctx.attempt() <= fails {
                        return Err::<(), BoxError>(
                            format!("undo {name} failed #{}", ctx.attempt()).into(),
                        );
                    }
                    Ok(())
                }
            })
            .compensation_retry(RetryPolicy::fixed(3, Duration::from_millis(5))),
    );
}

#[tokio::test(start_paused = true)]
async fn compensation_retries_then_succeeds() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("undo-flaky");
    failing_compensation(&mut b, &ledger, "a", 2);
    add_step(&mut b, &ledger, "b", true);
    let outcome = b.build().unwrap().run(0).await.unwrap();
    assert!(matches!(outcome, Outcome::Compensated(_)));
    assert_eq!(ledger.entries(), ["undo:a#1", "undo:a#2", "undo:a#3"]);
}

#[tokio::test(start_paused = true)]
async fn compensation_exhausted_parks_the_saga_with_every_error() {
    let ledger = Ledger::default();
    let store = InMemoryStore::keep_all();
    let mut b = Saga::<u32>::builder("stuck").store(store.clone());
    add_step(&mut b, &ledger, "early", false);
    failing_compensation(&mut b, &ledger, "middle", 10);
    add_step(&mut b, &ledger, "late", false);
    add_step(&mut b, &ledger, "fails", true);
    let run = b.build().unwrap().run(0);
    let id = run.id().clone();
    let Outcome::Parked(parked) = run.await.unwrap() else {
        panic!("expected parked")
    };

    assert_eq!(parked.compensated(), ["late"]);
    assert_eq!(
        parked.pending(),
        ["early"],
        "nothing is undone out of order"
    );
    let [stuck] = parked.stuck() else { panic!() };
    assert_eq!(stuck.step(), "middle");
    let errors: Vec<String> = stuck
        .earlier_errors()
        .iter()
        .chain([stuck.error()])
        .map(|e| std::error::Error::source(e).unwrap().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "undo middle failed #1",
            "undo middle failed #2",
            "undo middle failed #3"
        ]
    );
    // The chain from the outcome reaches the last compensation error.
    let mut chain = Vec::new();
    let mut e: Option<&dyn std::error::Error> = Some(&parked);
    while let Some(err) = e {
        chain.push(err.to_string());
        e = err.source();
    }
    assert_eq!(chain.last().unwrap(), "undo middle failed #3");
    assert!(chain[0].contains("parked") && chain[0].contains("middle"));
    let Cause::Step(cause) = parked.cause() else {
        panic!()
    };
    assert_eq!(cause.step(), "fails");

    assert_eq!(
        ledger.entries(),
        [
            "do:early",
            "do:late",
            "undo:late",
            "undo:middle#1",
            "undo:middle#2",
            "undo:middle#3"
        ]
    );
    let log = store.log(&id);
    assert!(matches!(
        log.last(),
        Some(LogEntry::Finished {
            outcome: OutcomeKind::Parked
        })
    ));
}

/// A saga whose second step hangs; events go to the returned channel.
fn hanging_saga(
    ledger: &Ledger,
    store: &InMemoryStore,
) -> (Saga<u32>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut b = Saga::<u32>::builder("hangs")
        .store(store.clone())
        .on_event(move |e| {
            let _ = tx.send(e.clone());
        });
    add_step(&mut b, ledger, "a", false);
    let (l1, l2) = (ledger.clone(), ledger.clone());
    b.step(
        Step::new("hang", move |_ctx| {
            let l = l1.clone();
            async move {
                l.push("do:hang");
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            }
        })
        .compensate(move |_ctx| {
            let l = l2.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                l.push("undo:hang");
                Ok::<_, BoxError>(())
            }
        }),
    );
    add_step(&mut b, ledger, "never", false);
    (b.build().unwrap(), rx)
}

async fn finished(rx: &mut mpsc::UnboundedReceiver<Event>) -> OutcomeKind {
    loop {
        if let Some(Event::Finished { outcome, .. }) = rx.recv().await {
            return outcome;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_still_compensates() {
    let ledger = Ledger::default();
    let store = InMemoryStore::keep_all();
    let (saga, mut events) = hanging_saga(&ledger, &store);
    let run = saga.run(0);
    let id = run.id().clone();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ledger.entries(), ["do:a", "do:hang"]);
    assert_eq!(saga.metrics().in_flight, 1);
    drop(run);

    assert_eq!(finished(&mut events).await, OutcomeKind::Compensated);
    assert_eq!(ledger.entries(), ["do:a", "do:hang", "undo:hang", "undo:a"]);
    let metrics = saga.metrics();
    assert_eq!((metrics.compensated, metrics.in_flight), (1, 0));
    let log = store.log(&id);
    assert!(log.iter().any(|e| matches!(e,
        LogEntry::StepFailed { outcome_unknown: true, error, .. } if error == "abandoned")));
    assert!(log.iter().any(|e| matches!(e,
        LogEntry::Compensating { reason, .. } if reason == "saga cancelled")));
}

#[tokio::test(start_paused = true)]
async fn deadline_abandons_the_step_in_flight_and_compensates() {
    let ledger = Ledger::default();
    let mut b = Saga::<u32>::builder("late").deadline(Duration::from_secs(5));
    add_step(&mut b, &ledger, "a", false);
    b.step(Step::new("hang", |_ctx| async {
        std::future::pending::<()>().await;
        Ok::<(), BoxError>(())
    }));
    let outcome = b.build().unwrap().run(0).await.unwrap();
    let Outcome::Compensated(c) = outcome else {
        panic!()
    };
    assert!(matches!(c.cause(), Cause::DeadlineExceeded(d) if *d == Duration::from_secs(5)));
    assert_eq!(ledger.entries(), ["do:a", "undo:a"]);
}

#[tokio::test(start_paused = true)]
async fn detached_run_goes_on_to_completion() {
    let ledger = Ledger::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut b = Saga::<u32>::builder("detached").on_event(move |e| {
        let _ = tx.send(e.clone());
    });
    add_step(&mut b, &ledger, "a", false);
    b.step(Step::new("wait", |_ctx| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<(), BoxError>(())
    }));
    add_step(&mut b, &ledger, "b", false);
    let id = b.build().unwrap().run(0).detach().unwrap();
    assert_eq!(finished(&mut rx).await, OutcomeKind::Completed);
    assert_eq!(ledger.entries(), ["do:a", "do:b"]);
    assert!(!id.as_str().is_empty());
}

#[test]
fn run_outside_a_runtime_is_an_error_not_a_panic() {
    let mut b = Saga::<u32>::builder("no-rt");
    b.step(Step::new("a", |_ctx| async { Ok::<(), BoxError>(()) }));
    let run = b.build().unwrap().run(0);
    let out = futures::executor::block_on(run);
    assert!(matches!(out, Err(bulwark::saga::SagaError::NoRuntime)));
}

#[test]
fn build_rejects_invalid_definitions_naming_the_field() {
    let noop = |name| Step::<u32, ()>::new(name, |_ctx| async { Ok::<(), BoxError>(()) });
    let empty = Saga::<u32>::builder("empty").build().unwrap_err();
    assert_eq!(empty.field(), "steps");

    let mut b = Saga::<u32>::builder("dup");
    b.step(noop("a"));
    b.step(noop("a"));
    let dup = b.build().unwrap_err();
    assert_eq!(dup.field(), "step `a`: name");
    assert!(dup.to_string().contains("unique"), "{dup}");

    let mut b = Saga::<u32>::builder("zero");
    b.step(noop("a").timeout(Duration::ZERO));
    assert_eq!(b.build().unwrap_err().field(), "step `a`: timeout");

    let mut b = Saga::<u32>::builder("attempts");
    b.step(noop("a").retry(RetryPolicy::fixed(0, Duration::ZERO)));
    assert_eq!(b.build().unwrap_err().field(), "step `a`: retry");

    let mut b = Saga::<u32>::builder("deadline").deadline(Duration::ZERO);
    b.step(noop("a"));
    assert_eq!(b.build().unwrap_err().field(), "deadline");

    let mut b = Saga::<u32>::builder("group");
    b.step(noop("a"));
    b.parallel(|_| ());
    assert_eq!(b.build().unwrap_err().field(), "parallel");
}

#[tokio::test(start_paused = true)]
async fn a_key_from_another_saga_is_a_missing_output() {
    let mut other = Saga::<u32>::builder("other");
    let foreign = other.step(Step::new("x", |_ctx| async { Ok::<u32, BoxError>(1) }));
    let mut b = Saga::<u32>::builder("this");
    b.step(Step::new("x", |_ctx| async { Ok::<u32, BoxError>(1) }));
    b.step(Step::new("y", move |ctx| async move {
        ctx.output(&foreign)?;
        Ok::<(), BoxError>(())
    }));
    let Outcome::Compensated(c) = b.build().unwrap().run(0).await.unwrap() else {
        panic!()
    };
    assert!(c.to_string().contains("compensated"));
    let Cause::Step(f) = c.cause() else { panic!() };
    assert_eq!(f.step(), "y");
}
