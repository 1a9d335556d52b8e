//! Saga test support: a store that injects faults into chosen appends, the stores the contract
//! suite runs against, and log entries to write by hand.
#![allow(dead_code)]

pub(crate) mod harness;

use bulwark::saga::{
    Claim, Claimed, InMemoryStore, LogEntry, OutcomeKind, SagaId, SagaStore, StepRef, StoreError,
    StoreFuture,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ------------------------------------------------------------------ the fault-injecting store

/// What happens to an append the plan picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Refused after a check: nothing written ([`StoreError::refused`]).
    Refuse,
    /// Failed, as a locked database or a full disk fails: nothing written ([`StoreError::new`]).
    Fail,
    /// Written, and then reported failed with an unknown outcome, as when the connection drops
    /// while the commit's acknowledgement is on its way ([`StoreError::outcome_unknown`]).
    Lose,
}

#[derive(Debug, Default)]
struct Plan {
    /// Appends seen so far: the index of the next one.
    seen: u64,
    by_index: BTreeMap<u64, Fault>,
    by_kind: Vec<(&'static str, Fault)>,
    /// A seeded draw per append: (generator state, probability in ‰, fault).
    random: Option<(u64, u64, Fault)>,
    /// Faults injected: (append index, entry kind, fault).
    injected: Vec<(u64, &'static str, Fault)>,
    healed: bool,
}

/// splitmix64: a small seeded generator.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A store that wraps a real one and refuses, fails or loses the appends its plan picks: by
/// their index among all appends through it (from 0), by their kind, or by a seeded draw.
/// Claims, loads and listings pass through. Clones share the plan.
#[derive(Clone, Debug)]
pub(crate) struct FaultyStore<S> {
    inner: S,
    plan: Arc<Mutex<Plan>>,
}

impl<S: SagaStore + Clone> FaultyStore<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            plan: Arc::default(),
        }
    }

    /// The store underneath, fault-free.
    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    /// Append number `index` (from 0, counting every append through this store) gets `fault`.
    pub(crate) fn at(self, index: u64, fault: Fault) -> Self {
        self.plan.lock().unwrap().by_index.insert(index, fault);
        self
    }

    /// Every append of an entry of `kind` ([`LogEntry::kind`]) gets `fault`.
    pub(crate) fn every(self, kind: &'static str, fault: Fault) -> Self {
        self.plan.lock().unwrap().by_kind.push((kind, fault));
        self
    }

    /// Each append gets `fault` with probability `per_mille` / 1000, drawn from `seed`.
    pub(crate) fn random(self, seed: u64, per_mille: u64, fault: Fault) -> Self {
        self.plan.lock().unwrap().random = Some((seed, per_mille, fault));
        self
    }

    /// From now on, no fault.
    pub(crate) fn heal(&self) {
        self.plan.lock().unwrap().healed = true;
    }

    /// The faults injected so far: (append index, entry kind, fault).
    pub(crate) fn injected(&self) -> Vec<(u64, &'static str, Fault)> {
        self.plan.lock().unwrap().injected.clone()
    }

    /// How many appends went through (faulted or not).
    pub(crate) fn appends(&self) -> u64 {
        self.plan.lock().unwrap().seen
    }

    fn pick(&self, entry: &LogEntry) -> Option<Fault> {
        let mut plan = self.plan.lock().unwrap();
        let index = plan.seen;
        plan.seen += 1;
        let drawn = match &mut plan.random {
            Some((state, per_mille, fault)) => {
                let (per_mille, fault) = (*per_mille, *fault);
                (splitmix(state) % 1000 < per_mille).then_some(fault)
            }
            None => None,
        };
        if plan.healed {
            return None;
        }
        let kind = entry.kind();
        let fault = plan
            .by_index
            .get(&index)
            .copied()
            .or_else(|| {
                plan.by_kind
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, f)| *f)
            })
            .or(drawn)?;
        plan.injected.push((index, kind, fault));
        Some(fault)
    }
}

impl<S: SagaStore + Clone> SagaStore for FaultyStore<S> {
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()> {
        let fault = self.pick(entry);
        Box::pin(async move {
            match fault {
                None => self.inner.append(id, entry, claim).await,
                Some(Fault::Refuse) => Err(StoreError::refused("injected: refused")),
                Some(Fault::Fail) => Err(StoreError::new("injected: database is locked")),
                Some(Fault::Lose) => {
                    self.inner.append(id, entry, claim).await?;
                    Err(StoreError::outcome_unknown("injected: connection lost"))
                }
            }
        })
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        self.inner.load(id)
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        self.inner.list_unfinished()
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        self.inner.list_parked()
    }

    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed> {
        self.inner.claim(id, claim)
    }

    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool> {
        self.inner.renew(id, claim)
    }

    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()> {
        self.inner.release(id, claim)
    }

    fn claim_ttl(&self) -> Duration {
        self.inner.claim_ttl()
    }
}

// ------------------------------------------------------------------ stores for the contract

/// One kind of store the contract suite runs against: opens a fresh one, and more handles on
/// the same storage (another connection to the file, for SQLite; a clone, in memory).
pub(crate) trait Backend: Sized {
    type Store: SagaStore + Clone;
    /// Whether the backend can run here (a server backend says no, and why, when its server
    /// is not reachable outside CI).
    async fn available() -> bool {
        true
    }
    async fn open(claim_ttl: Duration) -> Self;
    fn store(&self) -> Self::Store;
    async fn another_handle(&self) -> Self::Store;
}

pub(crate) struct Memory(InMemoryStore);

impl Backend for Memory {
    type Store = InMemoryStore;

    async fn open(claim_ttl: Duration) -> Self {
        Memory(InMemoryStore::keep_all().with_claim_ttl(claim_ttl))
    }

    fn store(&self) -> InMemoryStore {
        self.0.clone()
    }

    async fn another_handle(&self) -> InMemoryStore {
        self.0.clone()
    }
}

#[cfg(feature = "sqlite")]
pub(crate) struct Sqlite {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    claim_ttl: Duration,
    store: bulwark::saga::SqliteStore,
}

#[cfg(feature = "sqlite")]
impl Backend for Sqlite {
    type Store = bulwark::saga::SqliteStore;

    async fn open(claim_ttl: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sagas.db");
        let store = bulwark::saga::SqliteStore::builder(&path)
            .claim_ttl(claim_ttl)
            .open()
            .await
            .unwrap();
        Sqlite {
            _dir: dir,
            path,
            claim_ttl,
            store,
        }
    }

    fn store(&self) -> bulwark::saga::SqliteStore {
        self.store.clone()
    }

    async fn another_handle(&self) -> bulwark::saga::SqliteStore {
        bulwark::saga::SqliteStore::builder(&self.path)
            .claim_ttl(self.claim_ttl)
            .open()
            .await
            .unwrap()
    }
}

// ------------------------------------------------------------------ log entries by hand

pub(crate) fn at(index: u32, name: &'static str) -> StepRef {
    StepRef {
        index,
        name: Cow::Borrowed(name),
    }
}

pub(crate) fn started(
    definition: &'static str,
    version: u32,
    input: serde_json::Value,
) -> LogEntry {
    LogEntry::Started {
        definition: Cow::Borrowed(definition),
        version,
        input,
    }
}

pub(crate) fn step_started(index: u32, name: &'static str, attempt: u32) -> LogEntry {
    LogEntry::StepStarted {
        step: at(index, name),
        attempt,
    }
}

pub(crate) fn step_completed(
    index: u32,
    name: &'static str,
    output: serde_json::Value,
) -> LogEntry {
    LogEntry::StepCompleted {
        step: at(index, name),
        attempt: 1,
        output,
    }
}

pub(crate) fn finished(outcome: OutcomeKind) -> LogEntry {
    LogEntry::Finished { outcome }
}

/// Writes `log` for saga `id` as a process that then stopped would have: under one claim,
/// which is then released (as if it had expired).
pub(crate) async fn write_log(store: &impl SagaStore, id: &str, log: &[LogEntry]) {
    let (id, claim) = (SagaId::new(id), Claim::new());
    for entry in log {
        store.append(&id, entry, &claim).await.unwrap();
    }
    store.release(&id, &claim).await.unwrap();
}

/// The error and its sources, joined.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
