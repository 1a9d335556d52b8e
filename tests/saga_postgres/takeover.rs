//! Takeover: a node dies with sagas in flight; two live nodes' `Registry::takeover` loops
//! resume each of them once, for every store.

use crate::saga_support::{Backend, Memory};
use bulwark::BoxError;
use bulwark::saga::{
    Claim, Claimed, LogEntry, Registry, Resume, Saga, SagaId, SagaStore, Step, StoreFuture,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_millis(400);
const SAGAS: usize = 12;

/// A node's store that can die: once killed, every call hangs, as a dead process's would.
#[derive(Clone, Debug)]
struct Killable<S> {
    inner: S,
    dead: Arc<AtomicBool>,
}

impl<S: SagaStore + Clone> Killable<S> {
    fn call<'a, T: Send + 'a>(&self, f: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        if self.dead.load(Ordering::SeqCst) {
            Box::pin(std::future::pending())
        } else {
            f
        }
    }
}

impl<S: SagaStore + Clone> SagaStore for Killable<S> {
    fn append<'a>(&'a self, id: &'a SagaId, e: &'a LogEntry, c: &'a Claim) -> StoreFuture<'a, ()> {
        self.call(self.inner.append(id, e, c))
    }
    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        self.call(self.inner.load(id))
    }
    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        self.call(self.inner.list_unfinished())
    }
    fn claim<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, Claimed> {
        self.call(self.inner.claim(id, c))
    }
    fn renew<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, bool> {
        self.call(self.inner.renew(id, c))
    }
    fn release<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, ()> {
        self.call(self.inner.release(id, c))
    }
    fn claim_ttl(&self) -> Duration {
        self.inner.claim_ttl()
    }
    fn fences(&self) -> bool {
        self.inner.fences()
    }
    fn fence<'a>(&'a self, id: &'a SagaId, c: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        self.call(self.inner.fence(id, c))
    }
}

/// (node, saga, step, fence) of every action that ran.
type Ran = Arc<Mutex<Vec<(&'static str, String, &'static str, Option<u64>)>>>;

/// `a` → `b` (`Rerun`); on node `dying`, `b` never returns.
fn saga(node: &'static str, store: impl SagaStore, ran: &Ran) -> Saga<u32> {
    let mut b = Saga::<u32>::builder("takeover").store(store);
    for step in ["a", "b"] {
        let ran = ran.clone();
        b.step(
            Step::new(step, move |ctx| {
                let ran = ran.clone();
                let id = ctx.saga_id().to_string();
                ran.lock().unwrap().push((node, id, step, ctx.fence()));
                async move {
                    if (node, step) == ("dying", "b") {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, BoxError>(())
                }
            })
            .on_resume(Resume::Rerun),
        );
    }
    b.build().unwrap()
}

async fn the_sagas_of_a_dead_node_are_taken_over_once_by_the_live_ones<B: Backend>() {
    let backend = B::open(TTL).await;
    let ran = Ran::default();
    let dying = Killable {
        inner: backend.another_handle().await,
        dead: Arc::default(),
    };
    let doomed = saga("dying", dying.clone(), &ran);
    let runs: Vec<_> = (0..SAGAS)
        .map(|i| tokio::spawn(doomed.run_with_id(format!("o-{i}"), 1)))
        .collect();
    let in_b = |ran: &Ran| ran.lock().unwrap().iter().filter(|r| r.2 == "b").count();
    while in_b(&ran) < SAGAS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    dying.dead.store(true, Ordering::SeqCst);

    let mut takeovers = Vec::new();
    for node in ["live-1", "live-2"] {
        let store = backend.another_handle().await;
        let mut registry = Registry::new(store.clone());
        registry.register(&saga(node, store, &ran)).unwrap();
        takeovers.push(registry.takeover(Duration::from_millis(20)));
    }
    let store = backend.store();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.list_unfinished().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the sagas were not taken over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resumed: u64 = takeovers.iter().map(|t| t.metrics().resumed).sum();
    assert_eq!(resumed, SAGAS as u64, "each saga taken over once");
    for takeover in takeovers {
        assert!(takeover.metrics().ticks > 0);
        takeover.stop().await;
    }
    let ran = ran.lock().unwrap().clone();
    for i in 0..SAGAS {
        let id = format!("o-{i}");
        let mine: Vec<_> = ran.iter().filter(|r| r.1 == id).collect();
        // `a` once on the dead node; `b` there, then once more on exactly one live node.
        assert_eq!(mine.len(), 3, "{mine:?}");
        assert_eq!((mine[0].0, mine[0].2), ("dying", "a"));
        assert_eq!((mine[1].0, mine[1].2), ("dying", "b"));
        assert!(
            mine[2].0.starts_with("live") && mine[2].2 == "b",
            "{mine:?}"
        );
        if store.fences() {
            assert_eq!((mine[0].3, mine[2].3), (Some(1), Some(2)), "{mine:?}");
        }
    }
    for run in runs {
        run.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_the_sagas_of_a_dead_node_are_taken_over_once_by_the_live_ones() {
    the_sagas_of_a_dead_node_are_taken_over_once_by_the_live_ones::<Memory>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_the_sagas_of_a_dead_node_are_taken_over_once_by_the_live_ones() {
    if crate::pg::reachable() {
        the_sagas_of_a_dead_node_are_taken_over_once_by_the_live_ones::<crate::pg::Postgres>()
            .await;
    }
}
