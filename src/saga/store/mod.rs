//! The saga log: what a [`SagaStore`] keeps and the store's contract.

mod claim;
mod error;
mod id;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_read;
#[cfg(feature = "sqlite")]
mod sqlite_rows;
#[cfg(feature = "sqlite")]
mod sqlite_writer;

pub use claim::{Claim, Claimed, DEFAULT_CLAIM_TTL};
pub use error::StoreError;
pub use id::SagaId;
pub use memory::InMemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{ExpiredSaga, PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, SqliteStoreBuilder};

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future a [`SagaStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where a saga's transitions are recorded: one append-only log per saga id, and which run
/// holds each running saga (its [`Claim`]).
///
/// The orchestrator appends an entry for every transition and waits for the append to succeed
/// before it starts the work that entry announces: an action or a compensation never runs unless
/// its start is in the log (see [`LogEntry`]). A store therefore sees, for each saga, a log that
/// a new process can replay to know exactly where the saga stood.
///
/// # The contract
///
/// [`InMemoryStore`](super::InMemoryStore) and `SqliteStore` implement it and are tested by one
/// suite (`tests/saga/store_contract.rs`); a new store should pass the same.
///
/// - **Durable and ordered**: an append is durable before its future resolves `Ok`, and a
///   saga's entries load in append order.
/// - **Checked in one transaction with the append**: a [`LogEntry::Started`] for an id the store
///   holds is refused (an id is used once; a store that forgets finished sagas, as
///   [`InMemoryStore::new`](super::InMemoryStore::new) does, accepts the id again after that);
///   any other entry is refused unless the saga is running and held by the claim the entry is
///   written under; [`LogEntry::Reopened`] and [`LogEntry::Resolved`] only follow a parked
///   saga's `Finished`. `Started` and `Reopened` install their claim, `Finished` and `Resolved`
///   end it; a store may also renew the claim on each accepted append (`SqliteStore` does, the
///   in-memory store leaves it to the run's renewals).
/// - **Claims expire**: a claim not renewed for [`claim_ttl`](Self::claim_ttl) may be taken by
///   [`claim`](Self::claim); until then it is refused to anyone else, this process included.
/// - **Errors say what was written**: a refused append or a failed one writes nothing
///   ([`StoreError::refused`], [`StoreError::new`]); one whose outcome the store cannot know (a
///   connection lost while the commit was in flight) says so ([`StoreError::outcome_unknown`]).
///   The orchestrator retries an append that failed (per
///   [`SagaBuilder::store_retry`](super::SagaBuilder::store_retry)), so a store whose outcome was
///   unknown may see the entry twice: a replay reads a repeated entry as one.
pub trait SagaStore: fmt::Debug + Send + Sync + 'static {
    /// Appends `entry` to the log of saga `id`, written under `claim` (see the contract above):
    /// a [`LogEntry::Started`] creates the log.
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()>;

    /// The log of saga `id`, in append order; empty if the store has never seen it.
    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>>;

    /// The ids of sagas whose log has no [`LogEntry::Finished`] entry (or was
    /// [`Reopened`](LogEntry::Reopened) since): the ones a recovering process must resume,
    /// whether or not a claim holds them now.
    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>>;

    /// The ids of parked sagas: their log ends with a [`LogEntry::Finished`] whose outcome is
    /// [`OutcomeKind::Parked`]. They wait for an operator (see
    /// [`Registry`](super::Registry)).
    ///
    /// The default says the store cannot list them; both stores of this crate can.
    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        Box::pin(std::future::ready(Err(StoreError::new(
            "this saga store cannot list parked sagas",
        ))))
    }

    /// Makes `claim` the holder of running saga `id`, if no claim holds it or the holder's has
    /// expired, for [`claim_ttl`](Self::claim_ttl); in one transaction.
    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed>;

    /// Extends `claim` for another [`claim_ttl`](Self::claim_ttl) if it still holds running saga
    /// `id` (even if it had expired, as long as nobody else took the saga); `false` if it does
    /// not: the run must stop writing.
    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool>;

    /// Gives up `claim` on saga `id`, if it holds it, so that recovery need not wait for it to
    /// expire. Releasing a claim that does not hold the saga changes nothing.
    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()>;

    /// How long a claim lasts without being renewed. A run renews its claim every third of it.
    fn claim_ttl(&self) -> Duration;

    /// Claims up to `limit` running sagas that no live claim holds (none, or an expired one),
    /// each under a fresh claim of `owner`, and returns them with their claims (each with its
    /// [`fence`](Claim::fence) if the store numbers holds). What
    /// [`Registry::takeover`](super::Registry::takeover) calls on every tick.
    ///
    /// The default lists the unfinished sagas and [`claim`](Self::claim)s each in turn; a
    /// store that can pick the expired ones in one statement (`PostgresStore` does, with
    /// `FOR UPDATE SKIP LOCKED`, so that nodes taking over at once skip each other's picks)
    /// should.
    fn claim_expired<'a>(
        &'a self,
        owner: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(SagaId, Claim)>> {
        Box::pin(async move {
            let mut claimed = Vec::new();
            for id in self.list_unfinished().await? {
                if claimed.len() >= limit {
                    break;
                }
                let claim = Claim::with_owner(owner);
                if self.claim(&id, &claim).await? == Claimed::Granted {
                    let claim = match self.fence(&id, &claim).await? {
                        Some(fence) => claim.with_fence(fence),
                        None => claim,
                    };
                    claimed.push((id, claim));
                }
            }
            Ok(claimed)
        })
    }

    /// Whether the store numbers the holds of each saga (see [`Claim::fence`]): the claim a
    /// [`LogEntry::Started`] installs is then number 1. The default says it does not.
    fn fences(&self) -> bool {
        false
    }

    /// The fencing number of `claim`'s hold on running saga `id`, if `claim` holds it and the
    /// store numbers holds (see [`fences`](Self::fences)); `None` otherwise (the default).
    fn fence<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        let _ = (id, claim);
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// A shared store is a store: `Arc<dyn SagaStore>` (from [`Saga::store`](super::Saga::store))
/// can be handed to a [`Registry`](super::Registry).
impl<S: SagaStore + ?Sized> SagaStore for Arc<S> {
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()> {
        (**self).append(id, entry, claim)
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        (**self).load(id)
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        (**self).list_unfinished()
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        (**self).list_parked()
    }

    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed> {
        (**self).claim(id, claim)
    }

    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool> {
        (**self).renew(id, claim)
    }

    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()> {
        (**self).release(id, claim)
    }

    fn claim_ttl(&self) -> Duration {
        (**self).claim_ttl()
    }

    fn claim_expired<'a>(
        &'a self,
        owner: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(SagaId, Claim)>> {
        (**self).claim_expired(owner, limit)
    }

    fn fences(&self) -> bool {
        (**self).fences()
    }

    fn fence<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        (**self).fence(id, claim)
    }
}

/// A step as the log names it: its position in the definition and its name.
///
/// The position is what a replay uses; the name makes the log readable and lets a replay check
/// that the definition still has the same step there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRef {
    /// The step's position in the saga definition, counting from 0 across all groups.
    pub index: u32,
    /// The step's name.
    pub name: Cow<'static, str>,
}

/// How a saga ended, as the log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Every step completed.
    Completed,
    /// A step failed (or the saga was cancelled or ran out of time) and every step that may
    /// have taken effect was undone.
    Compensated,
    /// A compensation still failed after its retries: the saga waits for an operator.
    Parked,
}

/// One transition in a saga's log.
///
/// Replaying a log tells where the saga stood: a step with a `StepStarted` and no later entry
/// for it was in flight (it may have taken effect); `StepCompleted` carries the step's output
/// as JSON, so a resumed saga hands it to later steps and to the compensation; a `Compensating`
/// entry marks the turn from going forward to undoing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LogEntry {
    /// The first entry: which definition runs, and with what input.
    Started {
        /// The definition's registered name ([`Saga::builder`](super::Saga::builder)).
        definition: Cow<'static, str>,
        /// The definition's version ([`SagaBuilder::version`](super::SagaBuilder::version)).
        version: u32,
        /// The saga's input.
        input: serde_json::Value,
    },
    /// An attempt of a step's action is about to start.
    StepStarted {
        /// The step.
        step: StepRef,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step's action succeeded.
    StepCompleted {
        /// The step.
        step: StepRef,
        /// The attempt that succeeded.
        attempt: u32,
        /// The step's output.
        output: serde_json::Value,
    },
    /// An attempt of a step's action failed.
    StepFailed {
        /// The step.
        step: StepRef,
        /// The attempt that failed.
        attempt: u32,
        /// The error, as text.
        error: String,
        /// Whether the attempt may still have taken effect (it timed out, panicked or was
        /// abandoned), so that the step must be compensated.
        outcome_unknown: bool,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// The saga stops going forward and starts undoing.
    Compensating {
        /// The step whose failure caused it, if a step failed.
        failed_step: Option<StepRef>,
        /// Why, as text.
        reason: String,
    },
    /// An attempt of a step's compensation is about to start.
    CompensationStarted {
        /// The step being undone.
        step: StepRef,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step's compensation succeeded.
    CompensationCompleted {
        /// The step that was undone.
        step: StepRef,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// An attempt of a step's compensation failed.
    CompensationFailed {
        /// The step being undone.
        step: StepRef,
        /// The attempt that failed.
        attempt: u32,
        /// The error, as text.
        error: String,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// The saga's outcome: the last entry, unless the saga was parked and an operator acts.
    Finished {
        /// How it ended.
        outcome: OutcomeKind,
    },
    /// After a parked saga's `Finished`: an operator asked for its compensations to be tried
    /// again ([`Registry::retry_compensation`](super::Registry::retry_compensation)); the saga
    /// is compensating again.
    Reopened {
        /// The operator's note.
        note: String,
    },
    /// After a parked saga's `Finished`: an operator resolved it by hand
    /// ([`Registry::mark_resolved`](super::Registry::mark_resolved)). Nothing more runs for it;
    /// this is the last entry.
    Resolved {
        /// The operator's note.
        note: String,
    },
}

impl LogEntry {
    /// The entry's kind, as its JSON `kind` tag spells it (`"step_started"`, `"finished"`...).
    pub fn kind(&self) -> &'static str {
        match self {
            LogEntry::Started { .. } => "started",
            LogEntry::StepStarted { .. } => "step_started",
            LogEntry::StepCompleted { .. } => "step_completed",
            LogEntry::StepFailed { .. } => "step_failed",
            LogEntry::Compensating { .. } => "compensating",
            LogEntry::CompensationStarted { .. } => "compensation_started",
            LogEntry::CompensationCompleted { .. } => "compensation_completed",
            LogEntry::CompensationFailed { .. } => "compensation_failed",
            LogEntry::Finished { .. } => "finished",
            LogEntry::Reopened { .. } => "reopened",
            LogEntry::Resolved { .. } => "resolved",
        }
    }
}
