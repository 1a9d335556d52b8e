//! The default store: saga logs in memory.

use super::claim::{Claim, Claimed, DEFAULT_CLAIM_TTL};
use super::{LogEntry, OutcomeKind, SagaId, SagaStore, StoreError, StoreFuture};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The default store: logs kept in memory, lost with the process.
///
/// [`new`](Self::new) keeps the logs of sagas in flight and of parked sagas, and drops a log
/// once its saga completes or is compensated (or a parked one is resolved), so a long-running
/// process does not grow; [`keep_all`](Self::keep_all) keeps every log (for tests and
/// debugging). Clones share the same logs and claims, so a test (or an admin endpoint) can keep
/// a clone to read them.
///
/// It keeps the [`SagaStore`] contract as the durable store does, each append checked and
/// applied under one lock: a second [`LogEntry::Started`] for an id it holds is refused (a
/// dropped log's id can be used again), an entry for a saga that is not running or not held by
/// the entry's claim is refused, and claims expire after [`claim_ttl`](Self::claim_ttl) by
/// `tokio::time` (so a paused clock drives them in tests).
#[derive(Clone, Debug)]
pub struct InMemoryStore {
    sagas: Arc<Mutex<HashMap<SagaId, Record>>>,
    keep_finished: bool,
    claim_ttl: Duration,
}

/// One saga: its log, where it stands, and the claim holding it while it runs.
#[derive(Debug)]
struct Record {
    log: Vec<LogEntry>,
    state: State,
    holder: Option<(Claim, Instant)>,
    /// The number of the current (or last) hold: 1 for the run that started the saga, one
    /// more for each new holder since.
    fence: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Finished(OutcomeKind),
    Resolved,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self {
            sagas: Arc::default(),
            keep_finished: false,
            claim_ttl: DEFAULT_CLAIM_TTL,
        }
    }
}

impl InMemoryStore {
    /// An empty store that forgets sagas once they complete or are compensated.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps every log, finished or not.
    pub fn keep_all() -> Self {
        Self {
            keep_finished: true,
            ..Self::default()
        }
    }

    /// Claims last `ttl` without renewal ([`DEFAULT_CLAIM_TTL`] by default).
    #[must_use]
    pub fn with_claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SagaId, Record>> {
        // Every change is checked before it is made, so a panic cannot leave a record half
        // changed: recover the map.
        self.sagas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The log of saga `id`, read synchronously (a copy).
    pub fn log(&self, id: &SagaId) -> Vec<LogEntry> {
        self.lock()
            .get(id)
            .map(|r| r.log.clone())
            .unwrap_or_default()
    }

    /// The ids of every saga this store holds.
    pub fn ids(&self) -> Vec<SagaId> {
        self.lock().keys().cloned().collect()
    }

    fn ids_where(&self, wanted: impl Fn(State) -> bool) -> Vec<SagaId> {
        self.lock()
            .iter()
            .filter(|(_, r)| wanted(r.state))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The append's check and change, under the lock.
    fn apply(&self, id: &SagaId, entry: &LogEntry, claim: &Claim) -> Result<(), StoreError> {
        // The clock is read only to install a claim: appends do not renew it here (the run's
        // renewal does), which keeps a clock read off every step.
        let expires = || {
            let now = Instant::now();
            now.checked_add(self.claim_ttl).unwrap_or(now)
        };
        let mut sagas = self.lock();
        let refuse = |what: String| Err(StoreError::refused(what));
        if let LogEntry::Started { .. } = entry {
            if sagas.contains_key(id) {
                return refuse(format!(
                    "saga `{id}` is already in the store (an id is used once)"
                ));
            }
            let record = Record {
                log: vec![entry.clone()],
                state: State::Running,
                holder: Some((claim.clone(), expires())),
                fence: 1,
            };
            sagas.insert(id.clone(), record);
            return Ok(());
        }
        let Some(record) = sagas.get_mut(id) else {
            return refuse(format!(
                "no saga `{id}` in the store (its first entry must be `started`)"
            ));
        };
        let parked = record.state == State::Finished(OutcomeKind::Parked);
        let forget = match entry {
            LogEntry::Reopened { .. } | LogEntry::Resolved { .. } if !parked => {
                return refuse(format!("saga `{id}` is {:?}, not parked", record.state));
            }
            LogEntry::Reopened { .. } => {
                record.state = State::Running;
                record.holder = Some((claim.clone(), expires()));
                record.fence += 1;
                false
            }
            LogEntry::Resolved { .. } => {
                record.state = State::Resolved;
                true
            }
            _ if record.state != State::Running => {
                return refuse(format!("saga `{id}` is {:?}, not running", record.state));
            }
            _ if !matches!(&record.holder, Some((held, _)) if held == claim) => {
                return refuse(format!("saga `{id}` is not held by {claim:?}"));
            }
            LogEntry::Finished { outcome } => {
                record.state = State::Finished(*outcome);
                record.holder = None;
                *outcome != OutcomeKind::Parked
            }
            _ => false,
        };
        if forget && !self.keep_finished {
            sagas.remove(id);
        } else {
            record.log.push(entry.clone());
        }
        Ok(())
    }
}

impl SagaStore for InMemoryStore {
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.apply(id, entry, claim)))
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        Box::pin(std::future::ready(Ok(self.log(id))))
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        let ids = self.ids_where(|state| state == State::Running);
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        let ids = self.ids_where(|state| state == State::Finished(OutcomeKind::Parked));
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed> {
        let now = Instant::now();
        let mut sagas = self.lock();
        let claimed = match sagas.get_mut(id) {
            Some(record) if record.state == State::Running => match &record.holder {
                Some((held, until)) if *until > now && held != claim => Claimed::Held {
                    owner: held.owner().to_owned(),
                    expires_in: *until - now,
                },
                holder => {
                    if !matches!(holder, Some((held, _)) if held == claim) {
                        record.fence += 1;
                    }
                    let expires = now.checked_add(self.claim_ttl).unwrap_or(now);
                    record.holder = Some((claim.clone(), expires));
                    Claimed::Granted
                }
            },
            _ => Claimed::NotRunning,
        };
        Box::pin(std::future::ready(Ok(claimed)))
    }

    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let mut sagas = self.lock();
        let renewed = match sagas.get_mut(id) {
            Some(record) if record.state == State::Running => match &mut record.holder {
                Some((held, until)) if held == claim => {
                    *until = now.checked_add(self.claim_ttl).unwrap_or(now);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        Box::pin(std::future::ready(Ok(renewed)))
    }

    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()> {
        if let Some(record) = self.lock().get_mut(id)
            && matches!(&record.holder, Some((held, _)) if held == claim)
        {
            record.holder = None;
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn claim_ttl(&self) -> Duration {
        self.claim_ttl
    }

    fn fences(&self) -> bool {
        true
    }

    fn fence<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        let fence = self.lock().get(id).and_then(|record| match &record.holder {
            Some((held, _)) if held == claim && record.state == State::Running => {
                Some(record.fence)
            }
            _ => None,
        });
        Box::pin(std::future::ready(Ok(fence)))
    }
}
