//! The `SagaStore` contract: what an append checks and does, claims and their expiry, and what a
//! `Registry` can rely on (two registries never resume one saga; a live run's saga is left
//! alone; a crashed recoverer's claim expires; unreadable parked logs are reported).
//!
//! Each check is a generic function over [`Backend`]; the `contract!` macro instantiates the
//! list for one store. Included by `tests/saga_store_contract.rs` (in memory, SQLite) and by
//! `tests/saga_postgres/main.rs` (PostgreSQL), each as `mod contract` next to `mod saga_support`.
#![allow(dead_code)]

use crate::saga_support::{
    Backend, chain, finished, started, step_completed, step_started, write_log,
};
use bulwark::BoxError;
use bulwark::saga::{
    Claim, Claimed, LogEntry, Outcome, OutcomeKind, Phase, RecoveryError, Registry, Replay, Resume,
    Saga, SagaError, SagaId, SagaStore, Step,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TTL: Duration = Duration::from_secs(10);

fn input() -> serde_json::Value {
    serde_json::json!(4)
}

pub(crate) async fn entries_load_in_append_order_and_the_saga_is_unfinished_until_its_outcome<
    B: Backend,
>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let (id, claim) = (SagaId::new("o-1"), Claim::new());
    let log = [
        started("order", 2, input()),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::json!({ "id": 7 })),
    ];
    for entry in &log {
        store.append(&id, entry, &claim).await.unwrap();
    }
    assert_eq!(store.load(&id).await.unwrap(), log);
    assert_eq!(
        store.list_unfinished().await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert!(store.load(&"other".into()).await.unwrap().is_empty());

    store
        .append(&id, &finished(OutcomeKind::Parked), &claim)
        .await
        .unwrap();
    assert!(store.list_unfinished().await.unwrap().is_empty());
    assert_eq!(
        store.list_parked().await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert_eq!(store.load(&id).await.unwrap().len(), 4);
}

pub(crate) async fn a_second_start_for_an_id_is_refused_and_writes_nothing<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let id = SagaId::new("o-1");
    store
        .append(&id, &started("order", 1, input()), &Claim::new())
        .await
        .unwrap();
    let e = store
        .append(&id, &started("order", 2, input()), &Claim::new())
        .await
        .unwrap_err();
    assert!(e.is_refused(), "{e:?}");
    assert!(
        chain(&e).contains("saga `o-1` is already in the store"),
        "{}",
        chain(&e)
    );
    assert_eq!(
        store.load(&id).await.unwrap(),
        [started("order", 1, input())]
    );
}

/// Two runs under one id at once: the second is refused at its start and runs nothing, so the
/// log stays one saga's log.
pub(crate) async fn two_runs_under_one_id_run_the_saga_once<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let ran = Arc::new(AtomicU32::new(0));
    let counter = ran.clone();
    let gate = Arc::new(tokio::sync::Notify::new());
    let wait = gate.clone();
    let mut b = Saga::<u32>::builder("once").store(store.clone());
    b.step(Step::new("a", move |_ctx| {
        // The first run waits at the gate; a second would go through.
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        let wait = wait.clone();
        async move {
            if first {
                wait.notified().await;
            }
            Ok::<_, BoxError>(())
        }
    }));
    let saga = b.build().unwrap();
    let first = tokio::spawn(saga.run_with_id("o-1", 1));
    while ran.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let second = saga.run_with_id("o-1", 2).await;
    assert!(
        matches!(&second, Err(SagaError::Store(e)) if e.is_refused()),
        "{second:?}"
    );
    gate.notify_one();
    assert!(matches!(
        first.await.unwrap().unwrap(),
        Outcome::Completed(_)
    ));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let replay = Replay::from_log(&store.load(&"o-1".into()).await.unwrap()).unwrap();
    assert_eq!(replay.phase, Phase::Finished(OutcomeKind::Completed));
    assert_eq!(replay.input, serde_json::json!(1));
}

pub(crate) async fn an_entry_for_a_saga_that_is_not_running_is_refused_and_writes_nothing<
    B: Backend,
>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let claim = Claim::new();
    let e = store
        .append(&"nobody".into(), &step_started(0, "a", 1), &claim)
        .await
        .unwrap_err();
    assert!(e.is_refused());
    assert!(chain(&e).contains("no saga `nobody` in the store"), "{e:?}");

    let id = SagaId::new("done");
    store
        .append(&id, &started("order", 1, input()), &claim)
        .await
        .unwrap();
    store
        .append(&id, &finished(OutcomeKind::Completed), &claim)
        .await
        .unwrap();
    for entry in [
        step_started(0, "a", 1),
        finished(OutcomeKind::Parked),
        LogEntry::Reopened { note: "no".into() },
        LogEntry::Resolved { note: "no".into() },
    ] {
        let e = store.append(&id, &entry, &claim).await.unwrap_err();
        assert!(e.is_refused(), "{entry:?}: {e:?}");
    }
    assert_eq!(store.load(&id).await.unwrap().len(), 2);
}

/// The fencing: once another claim holds the saga, the old holder cannot write.
pub(crate) async fn an_entry_under_a_claim_that_does_not_hold_the_saga_is_refused<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let (id, first) = (SagaId::new("o-1"), Claim::new());
    store
        .append(&id, &started("order", 1, input()), &first)
        .await
        .unwrap();
    let stranger = Claim::new();
    let e = store
        .append(&id, &step_started(0, "a", 1), &stranger)
        .await
        .unwrap_err();
    assert!(e.is_refused() && chain(&e).contains("not held"), "{e:?}");

    tokio::time::advance(TTL).await;
    let second = Claim::new();
    assert_eq!(store.claim(&id, &second).await.unwrap(), Claimed::Granted);
    let e = store
        .append(&id, &step_started(0, "a", 1), &first)
        .await
        .unwrap_err();
    assert!(e.is_refused(), "{e:?}");
    assert!(!store.renew(&id, &first).await.unwrap());
    store
        .append(&id, &step_started(0, "a", 1), &second)
        .await
        .unwrap();
    assert_eq!(store.load(&id).await.unwrap().len(), 2);
}

pub(crate) async fn a_held_saga_is_refused_to_other_claims_until_its_claim_expires<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let (id, holder) = (SagaId::new("o-1"), Claim::with_owner("node-a"));
    store
        .append(&id, &started("order", 1, input()), &holder)
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    let other = Claim::with_owner("node-b");
    assert_eq!(
        store.claim(&id, &other).await.unwrap(),
        Claimed::Held {
            owner: "node-a".into(),
            expires_in: Duration::from_secs(6)
        }
    );
    // Even the same owner's other claim is refused: a claim is one run's.
    assert!(matches!(
        store
            .claim(&id, &Claim::with_owner("node-a"))
            .await
            .unwrap(),
        Claimed::Held { .. }
    ));
    // The holder writes on; `renew` extends its claim (past its expiry too, as long as
    // nobody took the saga meanwhile).
    store
        .append(&id, &step_started(0, "a", 1), &holder)
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(store.renew(&id, &holder).await.unwrap());
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(matches!(
        store.claim(&id, &other).await.unwrap(),
        Claimed::Held { .. }
    ));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(store.claim(&id, &other).await.unwrap(), Claimed::Granted);
    // Claiming again with the claim that holds it is granted (and renews it).
    assert_eq!(store.claim(&id, &other).await.unwrap(), Claimed::Granted);
}

pub(crate) async fn a_released_claim_frees_the_saga_at_once<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let (id, holder) = (SagaId::new("o-1"), Claim::new());
    store
        .append(&id, &started("order", 1, input()), &holder)
        .await
        .unwrap();
    // Releasing a claim that does not hold the saga changes nothing.
    store.release(&id, &Claim::new()).await.unwrap();
    assert!(matches!(
        store.claim(&id, &Claim::new()).await.unwrap(),
        Claimed::Held { .. }
    ));
    store.release(&id, &holder).await.unwrap();
    assert!(!store.renew(&id, &holder).await.unwrap());
    assert_eq!(
        store.claim(&id, &Claim::new()).await.unwrap(),
        Claimed::Granted
    );
}

pub(crate) async fn a_saga_that_is_not_running_cannot_be_claimed<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let claim = Claim::new();
    assert_eq!(
        store.claim(&"nobody".into(), &claim).await.unwrap(),
        Claimed::NotRunning
    );
    let id = SagaId::new("p-1");
    store
        .append(&id, &started("order", 1, input()), &claim)
        .await
        .unwrap();
    store
        .append(&id, &finished(OutcomeKind::Parked), &claim)
        .await
        .unwrap();
    assert_eq!(
        store.claim(&id, &Claim::new()).await.unwrap(),
        Claimed::NotRunning
    );
    assert!(!store.renew(&id, &claim).await.unwrap());
}

/// An operator's `Reopened` installs its claim, as a first entry does; `Resolved` needs none.
pub(crate) async fn reopening_a_parked_saga_claims_it_for_the_new_run<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let (id, run) = (SagaId::new("p-1"), Claim::new());
    store
        .append(&id, &started("order", 1, input()), &run)
        .await
        .unwrap();
    store
        .append(&id, &finished(OutcomeKind::Parked), &run)
        .await
        .unwrap();
    let operator = Claim::new();
    store
        .append(&id, &LogEntry::Reopened { note: "x".into() }, &operator)
        .await
        .unwrap();
    assert_eq!(
        store.list_unfinished().await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert!(matches!(
        store.claim(&id, &Claim::new()).await.unwrap(),
        Claimed::Held { .. }
    ));
    assert!(
        store
            .append(&id, &step_started(0, "a", 1), &run)
            .await
            .is_err()
    );
    store
        .append(&id, &finished(OutcomeKind::Parked), &operator)
        .await
        .unwrap();
    store
        .append(&id, &LogEntry::Resolved { note: "y".into() }, &Claim::new())
        .await
        .unwrap();
    let replay = Replay::from_log(&store.load(&id).await.unwrap()).unwrap();
    assert_eq!(replay.phase, Phase::Resolved);
}

/// `a` → `b`; each counts its runs.
fn counted_saga(store: impl SagaStore, ran: &Arc<Mutex<Vec<String>>>) -> Saga<u32> {
    let mut b = Saga::<u32>::builder("order").store(store);
    for name in ["a", "b"] {
        let ran = ran.clone();
        b.step(
            Step::new(name, move |ctx| {
                let ran = ran.clone();
                let id = ctx.saga_id().to_string();
                async move {
                    tokio::task::yield_now().await;
                    ran.lock().unwrap().push(format!("{id}/{name}"));
                    Ok::<_, BoxError>(())
                }
            })
            .on_resume(Resume::Rerun),
        );
    }
    b.build().unwrap()
}

/// Two registries, each with its own handle on one store, recover at once on real threads:
/// every unfinished saga is resumed by exactly one of them.
pub(crate) async fn two_registries_recovering_at_once_resume_each_saga_once<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let n = 40;
    for i in 0..n {
        // Left by a process that stopped with `a` done: `b` is left to do.
        let log = [
            started("order", 1, input()),
            step_started(0, "a", 1),
            step_completed(0, "a", serde_json::Value::Null),
        ];
        write_log(&store, &format!("o-{i}"), &log).await;
    }
    let ran = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for _ in 0..2 {
        let handle = backend.another_handle().await;
        let mut registry = Registry::new(handle.clone());
        registry.register(&counted_saga(handle, &ran)).unwrap();
        handles.push(tokio::spawn(async move {
            let recovered = registry.recover().await.unwrap();
            assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
            let mut outcomes = Vec::new();
            for run in recovered.resumed {
                outcomes.push(run.await.unwrap().kind());
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.extend(handle.await.unwrap());
    }
    assert_eq!(outcomes.len(), n, "each saga resumed once in all");
    assert!(outcomes.iter().all(|&k| k == OutcomeKind::Completed));
    let mut ran = ran.lock().unwrap().clone();
    ran.sort();
    let expected: Vec<_> = {
        let mut e: Vec<_> = (0..n).map(|i| format!("o-{i}/b")).collect();
        e.sort();
        e
    };
    assert_eq!(ran, expected, "every `b` ran once, no `a` again");
    assert!(store.list_unfinished().await.unwrap().is_empty());
}

/// A run in flight holds its saga: a registry (in this process or another) does not resume it.
pub(crate) async fn a_live_run_is_left_to_its_run<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let gate = Arc::new(tokio::sync::Notify::new());
    let wait = gate.clone();
    let mut b = Saga::<u32>::builder("live").store(store.clone());
    b.step(Step::new("slow", move |_ctx| {
        let wait = wait.clone();
        async move {
            wait.notified().await;
            Ok::<_, BoxError>(())
        }
    }));
    let saga = b.build().unwrap();
    let run = tokio::spawn(saga.run_with_id("o-1", 1));
    while store.load(&"o-1".into()).await.unwrap().len() < 2 {
        tokio::task::yield_now().await;
    }
    // Long after the claim's time to live: the run renews it.
    tokio::time::sleep(TTL * 3).await;
    let mut registry = Registry::new(backend.another_handle().await);
    registry.register(&saga).unwrap();
    let recovered = registry.recover().await.unwrap();
    assert!(recovered.resumed.is_empty() && recovered.failed.is_empty());
    assert_eq!(recovered.held.len(), 1);
    assert_eq!(recovered.held[0].id, SagaId::new("o-1"));
    gate.notify_one();
    assert!(matches!(run.await.unwrap().unwrap(), Outcome::Completed(_)));
}

/// A recoverer that claimed a saga and died: its claim expires and another resumes the saga.
pub(crate) async fn a_crashed_recoverers_claim_expires_and_another_registry_resumes_the_saga<
    B: Backend,
>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let log = [started("order", 1, input()), step_started(0, "a", 1)];
    write_log(&store, "o-1", &log).await;
    let crashed = Claim::with_owner("crashed-recoverer");
    assert_eq!(
        store.claim(&"o-1".into(), &crashed).await.unwrap(),
        Claimed::Granted
    );
    let ran = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new(backend.another_handle().await);
    registry
        .register(&counted_saga(store.clone(), &ran))
        .unwrap();
    let recovered = registry.recover().await.unwrap();
    assert!(recovered.resumed.is_empty());
    assert_eq!(recovered.held[0].owner, "crashed-recoverer");
    tokio::time::sleep(recovered.held[0].expires_in).await;
    let mut recovered = registry.recover().await.unwrap();
    assert!(recovered.held.is_empty());
    let run = recovered.resumed.pop().unwrap();
    assert!(matches!(run.await.unwrap(), Outcome::Completed(_)));
    assert_eq!(*ran.lock().unwrap(), ["o-1/a", "o-1/b"]);
}

/// `parked()` lists the parked sagas whose logs read back and reports the others, as
/// `recover()` does, instead of failing the whole listing.
pub(crate) async fn parked_lists_the_readable_sagas_and_reports_the_unreadable_ones<B: Backend>() {
    let backend = B::open(TTL).await;
    let store = backend.store();
    let good = [
        started("order", 1, input()),
        step_started(0, "a", 1),
        step_completed(0, "a", serde_json::Value::Null),
        finished(OutcomeKind::Parked),
    ];
    write_log(&store, "p-good", &good).await;
    // A log no replay accepts: step 0 under two names.
    let bad = [
        started("order", 1, input()),
        step_started(0, "a", 1),
        step_completed(0, "b", serde_json::Value::Null),
        finished(OutcomeKind::Parked),
    ];
    write_log(&store, "p-bad", &bad).await;
    let registry = Registry::new(store);
    let parked = registry.parked().await.unwrap();
    assert_eq!(parked.sagas.len(), 1);
    assert_eq!(parked.sagas[0].id, SagaId::new("p-good"));
    let [RecoveryError::Log { id, .. }] = &parked.failed[..] else {
        panic!("{:?}", parked.failed)
    };
    assert_eq!(id, &SagaId::new("p-bad"));
}

macro_rules! contract {
    ($backend:ty) => {
        contract!($backend, paused:
            entries_load_in_append_order_and_the_saga_is_unfinished_until_its_outcome,
            a_second_start_for_an_id_is_refused_and_writes_nothing,
            two_runs_under_one_id_run_the_saga_once,
            an_entry_for_a_saga_that_is_not_running_is_refused_and_writes_nothing,
            an_entry_under_a_claim_that_does_not_hold_the_saga_is_refused,
            a_held_saga_is_refused_to_other_claims_until_its_claim_expires,
            a_released_claim_frees_the_saga_at_once,
            a_saga_that_is_not_running_cannot_be_claimed,
            reopening_a_parked_saga_claims_it_for_the_new_run,
            a_live_run_is_left_to_its_run,
            a_crashed_recoverers_claim_expires_and_another_registry_resumes_the_saga,
            parked_lists_the_readable_sagas_and_reports_the_unreadable_ones,
        );
        contract!($backend, threads:
            two_registries_recovering_at_once_resume_each_saga_once,
        );
    };
    ($backend:ty, paused: $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $check() {
                if <$backend as $crate::saga_support::Backend>::available().await {
                    $crate::contract::$check::<$backend>().await;
                }
            }
        )*
    };
    ($backend:ty, threads: $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                if <$backend as $crate::saga_support::Backend>::available().await {
                    $crate::contract::$check::<$backend>().await;
                }
            }
        )*
    };
}
