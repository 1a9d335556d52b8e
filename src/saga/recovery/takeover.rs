//! Takeover: a registry that keeps resuming the sagas whose runs died, on an interval, until
//! stopped.

use super::registry::Registry;
use crate::saga::store::Claim;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// At most this many sagas are claimed in one statement; a tick goes on while batches are full.
const BATCH: usize = 64;

/// The background task of [`Registry::takeover`]: stop it with [`stop`](Self::stop) (or drop
/// it, which stops it at once). Sagas it resumed go on to their outcomes either way.
pub struct Takeover {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

/// What a [`Takeover`] did so far, from [`Takeover::metrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TakeoverMetrics {
    /// Ticks run.
    pub ticks: u64,
    /// Sagas claimed because their lease had expired (or had been released).
    pub claimed: u64,
    /// Of those, sagas resumed: taken over.
    pub resumed: u64,
    /// Of those, sagas that could not be resumed (definition not registered, log not matching
    /// it): their claim was released, they stay in the store for an operator.
    pub failed: u64,
    /// Ticks on which the store failed to claim; the next tick tries again.
    pub store_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    ticks: AtomicU64,
    claimed: AtomicU64,
    resumed: AtomicU64,
    failed: AtomicU64,
    store_errors: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Registry {
    /// Resumes, every `every`, the running sagas whose lease (their run's claim) expired or
    /// was released: the sagas of a node that died or stalled past its claim's expiry. Runs on
    /// a task of the current tokio runtime until the returned [`Takeover`] is stopped or
    /// dropped; must be called inside a runtime.
    ///
    /// Each tick claims the expired sagas in the store
    /// ([`SagaStore::claim_expired`](crate::saga::SagaStore::claim_expired): with
    /// `PostgresStore`, `FOR UPDATE SKIP LOCKED`, so that nodes taking over at once never pick
    /// one saga twice and do not wait on each other), then resumes each under its steps'
    /// [`Resume`](crate::saga::Resume) policies, as [`recover`](Self::recover) does. A saga that
    /// cannot be resumed (its definition is not registered here, its log does not match) is
    /// released and counted in [`TakeoverMetrics::failed`]; it is tried again on later ticks, so
    /// a node with the right definition can take it. Works with every store.
    ///
    /// The registry is copied into the task (its definitions and store); registering more
    /// definitions afterwards does not change a takeover already running.
    pub fn takeover(&self, every: Duration) -> Takeover {
        let registry = Registry {
            store: self.store.clone(),
            definitions: self.definitions.clone(),
        };
        let (stop, mut stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let owner = Claim::new().owner().to_owned();
        let task = tokio::spawn({
            let counters = counters.clone();
            async move {
                let every = every.max(Duration::from_millis(1));
                loop {
                    registry.takeover_tick(&owner, &counters).await;
                    // Stopped (or the handle dropped) before the next tick: done.
                    if tokio::time::timeout(every, stopped.changed()).await.is_ok() {
                        return;
                    }
                }
            }
        });
        Takeover {
            stop,
            task: Some(task),
            counters,
        }
    }

    async fn takeover_tick(&self, owner: &str, counters: &Counters) {
        add(&counters.ticks, 1);
        loop {
            let claimed = match self.store.claim_expired(owner, BATCH).await {
                Ok(claimed) => claimed,
                Err(_e) => {
                    add(&counters.store_errors, 1);
                    #[cfg(feature = "tracing")]
                    tracing::warn!(target: "bulwark::saga", error = %_e, "saga takeover: the store failed to claim");
                    return;
                }
            };
            let full = claimed.len() >= BATCH;
            add(&counters.claimed, claimed.len() as u64);
            let mut all_resumed = true;
            for (id, claim) in claimed {
                // A resumed run is detached: it goes on to its outcome on its own task.
                match self.resume_claimed(id, claim).await {
                    Ok(_run) => add(&counters.resumed, 1),
                    Err(_e) => {
                        all_resumed = false;
                        add(&counters.failed, 1);
                        #[cfg(feature = "tracing")]
                        tracing::warn!(target: "bulwark::saga", error = %_e, "saga takeover: cannot resume");
                    }
                }
            }
            // A saga that failed was released: claiming again now would pick it again.
            if !full || !all_resumed {
                return;
            }
        }
    }
}

impl Takeover {
    /// What it did so far.
    pub fn metrics(&self) -> TakeoverMetrics {
        let c = &self.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        TakeoverMetrics {
            ticks: load(&c.ticks),
            claimed: load(&c.claimed),
            resumed: load(&c.resumed),
            failed: load(&c.failed),
            store_errors: load(&c.store_errors),
        }
    }

    /// Stops it: lets the tick in progress finish (its resumed sagas go on), then returns.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Takeover {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for Takeover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Takeover")
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}
