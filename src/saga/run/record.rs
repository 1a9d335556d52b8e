//! Writing a run's log: each append tried per the saga's store policy; an append that still
//! fails stops the run, and the run's claim is renewed while it goes on.

use super::engine::Engine;
use crate::saga::definition::RetryPolicy;
use crate::saga::events::Event;
use crate::saga::store::{Claim, LogEntry, SagaId, SagaStore, StoreError};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

/// Why a run stopped short of an outcome: the entry it could not record, and the store's error.
#[derive(Debug)]
pub(crate) struct Stop {
    pub(crate) entry: &'static str,
    pub(crate) error: StoreError,
}

/// The run stopped (the cause is in [`Engine::stop`]): nothing more may start.
#[derive(Debug)]
pub(crate) struct Stopped;

/// How a step's action or compensation ended when it did not complete.
pub(crate) enum Halt<F> {
    /// It failed for good (the failure is logged).
    Failed(F),
    /// The run stopped.
    Stopped,
}

impl<F> From<Stopped> for Halt<F> {
    fn from(_: Stopped) -> Self {
        Halt::Stopped
    }
}

/// An append that failed on every attempt.
pub(crate) struct NotRecorded {
    pub(crate) error: StoreError,
    /// Some attempt's failure left it unknown whether the entry was written.
    pub(crate) maybe_written: bool,
}

/// Appends `entry` under `claim`, trying again per `policy` while the store fails (not when it
/// refuses: a refusal is its answer).
pub(crate) async fn append(
    store: &dyn SagaStore,
    policy: &RetryPolicy,
    id: &SagaId,
    entry: &LogEntry,
    claim: &Claim,
) -> Result<(), NotRecorded> {
    let mut tries = policy.tries();
    let mut maybe_written = false;
    loop {
        let error = match store.append(id, entry, claim).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        maybe_written |= error.may_have_been_applied();
        if error.is_refused() || !tries.attempts_left() {
            return Err(NotRecorded {
                error,
                maybe_written,
            });
        }
        tokio::time::sleep(policy.next_wait(&mut tries)).await;
    }
}

/// The first stop of a run; later ones are dropped (the first is the cause).
#[derive(Debug, Default)]
pub(crate) struct StopCell(Mutex<Option<Stop>>);

impl StopCell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Stop>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set(&self, stop: Stop) {
        self.lock().get_or_insert(stop);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.lock().is_some()
    }

    pub(crate) fn take(&self) -> Option<Stop> {
        self.lock().take()
    }
}

impl<I: Send + Sync + 'static> Engine<'_, I> {
    /// Records `entry` in the run's log. If the store still fails after the saga's store policy,
    /// the run stops: the caller must not start what the entry announces, nor anything after.
    pub(crate) async fn record(&self, entry: LogEntry) -> Result<(), Stopped> {
        let def = self.def;
        let result = append(
            &*def.store,
            &def.store_retry,
            &self.run.id,
            &entry,
            self.claim,
        )
        .await;
        result.map_err(|failed| {
            self.stop.set(Stop {
                entry: entry.kind(),
                error: failed.error,
            });
            Stopped
        })
    }

    /// Whether the run has stopped: no new attempt may start.
    pub(crate) fn stopped(&self) -> Result<(), Stopped> {
        if self.stop.is_set() {
            Err(Stopped)
        } else {
            Ok(())
        }
    }

    /// Runs `work` while renewing the run's claim every third of the store's claim time to live.
    /// A renewal that finds the claim gone (another run took the saga over after this one
    /// stalled past the expiry) stops the run; a renewal the store fails is tried at the next
    /// tick (appends are fenced by the claim in any case, and some stores renew it on each).
    pub(crate) async fn renewing<T>(&self, work: impl Future<Output = T>) -> T {
        let store = &*self.def.store;
        let every = (store.claim_ttl() / 3).max(std::time::Duration::from_millis(1));
        let renew = async {
            loop {
                tokio::time::sleep(every).await;
                let def = self.def;
                let renewed = store.renew(&self.run.id, self.claim).await;
                if let Ok(true) = renewed {
                    def.counters.renewed();
                    def.listeners.emit(|name| Event::ClaimRenewed {
                        name,
                        saga: self.run.id.clone(),
                    });
                }
                if let Ok(false) = renewed {
                    def.counters.claim_lost();
                    def.listeners.emit(|name| Event::ClaimLost {
                        name,
                        saga: self.run.id.clone(),
                    });
                    let error = StoreError::refused("the run's claim on the saga was lost");
                    self.stop.set(Stop {
                        entry: "claim",
                        error,
                    });
                    std::future::pending::<()>().await;
                }
            }
        };
        let (mut work, mut renew) = (pin!(work), pin!(renew));
        poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            let _ = renew.as_mut().poll(cx);
            Poll::Pending
        })
        .await
    }
}
