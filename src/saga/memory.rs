//! The default store: saga logs in memory.

use super::store::{LogEntry, OutcomeKind, SagaId, SagaStore, StoreFuture};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The default store: logs kept in memory, lost with the process.
///
/// [`new`](Self::new) keeps the logs of sagas in flight and of parked sagas, and drops a log
/// once its saga completes or is compensated, so a long-running process does not grow;
/// [`keep_all`](Self::keep_all) keeps every log (for tests and debugging). Clones share the same
/// logs, so a test (or an admin endpoint) can keep a clone to read them.
#[derive(Clone, Debug, Default)]
pub struct InMemoryStore {
    logs: Arc<Mutex<HashMap<SagaId, Vec<LogEntry>>>>,
    keep_finished: bool,
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

    fn lock(&self) -> MutexGuard<'_, HashMap<SagaId, Vec<LogEntry>>> {
        // A panic while holding this lock cannot leave a log half-appended: recover the map.
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The log of saga `id`, read synchronously (a copy).
    pub fn log(&self, id: &SagaId) -> Vec<LogEntry> {
        self.lock().get(id).cloned().unwrap_or_default()
    }

    /// The ids of every saga this store has seen.
    pub fn ids(&self) -> Vec<SagaId> {
        self.lock().keys().cloned().collect()
    }
}

impl SagaStore for InMemoryStore {
    fn append<'a>(&'a self, id: &'a SagaId, entry: LogEntry) -> StoreFuture<'a, ()> {
        let forget = !self.keep_finished
            && matches!(
                entry,
                LogEntry::Finished {
                    outcome: OutcomeKind::Completed | OutcomeKind::Compensated
                } | LogEntry::Resolved { .. }
            );
        let mut logs = self.lock();
        if forget {
            logs.remove(id);
        } else if let Some(log) = logs.get_mut(id) {
            log.push(entry);
        } else {
            logs.insert(id.clone(), vec![entry]);
        }
        drop(logs);
        Box::pin(std::future::ready(Ok(())))
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        Box::pin(std::future::ready(Ok(self.log(id))))
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        let ids = self
            .lock()
            .iter()
            .filter(|(_, log)| {
                !matches!(
                    log.last(),
                    Some(LogEntry::Finished { .. } | LogEntry::Resolved { .. })
                )
            })
            .map(|(id, _)| id.clone())
            .collect();
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        let ids = self
            .lock()
            .iter()
            .filter(|(_, log)| {
                matches!(
                    log.last(),
                    Some(LogEntry::Finished {
                        outcome: OutcomeKind::Parked
                    })
                )
            })
            .map(|(id, _)| id.clone())
            .collect();
        Box::pin(std::future::ready(Ok(ids)))
    }
}
