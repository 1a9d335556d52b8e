//! Leases and fencing: a run that stalls past its lease is taken over, then cannot write, and
//! stops without running another step; each holder's steps see a greater fencing number.

use crate::pg::{Schema, reachable};
use bulwark::BoxError;
use bulwark::saga::{
    Claim, Event, LogEntry, Outcome, OutcomeKind, Phase, Registry, Replay, Resume, Saga, SagaError,
    SagaId, SagaStore, Step, StoreFuture,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

const TTL: Duration = Duration::from_secs(2);

/// A store whose renewals hang while it is stalled, as a paused or cut-off node's do.
#[derive(Clone, Debug)]
struct Stalling<S> {
    inner: S,
    stalled: Arc<watch::Sender<bool>>,
}

impl<S: SagaStore + Clone> SagaStore for Stalling<S> {
    fn append<'a>(&'a self, id: &'a SagaId, e: &'a LogEntry, c: &'a Claim) -> StoreFuture<'a, ()> {
        self.inner.append(id, e, c)
    }
    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        self.inner.load(id)
    }
    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        self.inner.list_unfinished()
    }
    fn claim<'a>(
        &'a self,
        id: &'a SagaId,
        c: &'a Claim,
    ) -> StoreFuture<'a, bulwark::saga::Claimed> {
        self.inner.claim(id, c)
    }
    fn renew<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, bool> {
        let mut stalled = self.stalled.subscribe();
        Box::pin(async move {
            let _ = stalled.wait_for(|s| !s).await;
            self.inner.renew(id, c).await
        })
    }
    fn release<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, ()> {
        self.inner.release(id, c)
    }
    fn claim_ttl(&self) -> Duration {
        self.inner.claim_ttl()
    }
    fn fences(&self) -> bool {
        self.inner.fences()
    }
    fn fence<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        self.inner.fence(id, c)
    }
}

/// (node, step, fence) of every action that ran.
type Ran = Arc<Mutex<Vec<(&'static str, &'static str, Option<u64>)>>>;

/// `a` (waits at `gate` if given) → `b`; both `Rerun`, both record who ran them.
fn saga(
    node: &'static str,
    store: impl SagaStore,
    ran: &Ran,
    gate: Option<Arc<Notify>>,
    events: &Arc<Mutex<Vec<Event>>>,
) -> Saga<u32> {
    let events = events.clone();
    let mut b = Saga::<u32>::builder("lease")
        .store(store)
        .on_event(move |e| events.lock().unwrap().push(e.clone()));
    for step in ["a", "b"] {
        let (ran, gate) = (ran.clone(), gate.clone());
        b.step(
            Step::new(step, move |ctx| {
                let (ran, gate) = (ran.clone(), gate.clone());
                async move {
                    ran.lock().unwrap().push((node, step, ctx.fence()));
                    if let (Some(gate), "a") = (gate, step) {
                        gate.notified().await;
                    }
                    Ok::<_, BoxError>(())
                }
            })
            .on_resume(Resume::Rerun),
        );
    }
    b.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_owner_is_fenced_off_and_stops_without_running_another_step() {
    if !reachable() {
        return;
    }
    let schema = Schema::new("lease");
    let stalled = Arc::new(watch::channel(false).0);
    let node_a = Stalling {
        inner: schema.store(TTL).await,
        stalled: stalled.clone(),
    };
    let node_b = schema.store(TTL).await;
    let (ran, gate) = (Ran::default(), Arc::new(Notify::new()));
    let (events_a, events_b) = (Arc::default(), Arc::default());
    let saga_a = saga("a", node_a.clone(), &ran, Some(gate.clone()), &events_a);
    let run_a = tokio::spawn(saga_a.run_with_id("o-1", 1));
    while ran.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    // Node A stalls in step `a`: its renewals hang, its lease expires, node B takes over.
    stalled.send_replace(true);
    tokio::time::sleep(TTL * 2).await;
    let mut registry = Registry::new(node_b.clone());
    registry
        .register(&saga("b", node_b.clone(), &ran, None, &events_b))
        .unwrap();
    let mut recovered = registry.recover().await.unwrap();
    assert_eq!(recovered.resumed.len(), 1, "{recovered:?}");
    let run_b = recovered.resumed.pop().unwrap();
    assert!(matches!(run_b.await.unwrap(), Outcome::Completed(_)));

    // Node A wakes: its renewal finds the lease gone, then its step returns; it writes nothing
    // and runs nothing more.
    stalled.send_replace(false);
    tokio::time::sleep(TTL).await;
    gate.notify_one();
    let a = run_a.await.unwrap();
    let Err(SagaError::Unsettled(unsettled)) = &a else {
        panic!("{a:?}")
    };
    assert_eq!(unsettled.entry(), "claim");
    assert!(unsettled.error().is_refused(), "{unsettled:?}");
    assert_eq!(saga_a.metrics().claims_lost, 1);
    assert!(
        events_a
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::ClaimLost { .. }))
    );
    assert_eq!(
        *ran.lock().unwrap(),
        [
            ("a", "a", Some(1)),
            ("b", "a", Some(2)),
            ("b", "b", Some(2))
        ],
        "A ran `a` under fence 1 and nothing after; B reran `a` and ran `b` under fence 2"
    );
    let log = node_b.load(&"o-1".into()).await.unwrap();
    let finished = log
        .iter()
        .filter(|e| matches!(e, LogEntry::Finished { .. }))
        .count();
    assert_eq!(finished, 1);
    let replay = Replay::from_log(&log).unwrap();
    assert_eq!(replay.phase, Phase::Finished(OutcomeKind::Completed));
}

/// A stale owner's append is refused with the error kind every store uses for a lost claim,
/// in the same statement that would write it.
#[tokio::test(start_paused = true)]
async fn an_append_from_a_stale_owner_is_refused_as_not_held() {
    if !reachable() {
        return;
    }
    let schema = Schema::new("stale");
    let (a, b) = (schema.store(TTL).await, schema.store(TTL).await);
    let id = SagaId::new("o-1");
    let first = Claim::with_owner("node-a");
    let started = LogEntry::Started {
        definition: "lease".into(),
        version: 1,
        input: serde_json::json!(1),
    };
    a.append(&id, &started, &first).await.unwrap();
    assert_eq!(a.fence(&id, &first).await.unwrap(), Some(1));
    tokio::time::advance(TTL).await;
    let second = Claim::with_owner("node-b");
    assert_eq!(
        b.claim(&id, &second).await.unwrap(),
        bulwark::saga::Claimed::Granted
    );
    assert_eq!(b.fence(&id, &second).await.unwrap(), Some(2));
    assert_eq!(a.fence(&id, &first).await.unwrap(), None);
    let e = a
        .append(
            &id,
            &LogEntry::Finished {
                outcome: OutcomeKind::Completed,
            },
            &first,
        )
        .await
        .unwrap_err();
    assert!(e.is_refused(), "{e:?}");
    let text = crate::saga_support::chain(&e);
    assert!(
        text.contains("not held") && text.contains("node-b"),
        "{text}"
    );
    assert_eq!(a.load(&id).await.unwrap(), [started]);
}
