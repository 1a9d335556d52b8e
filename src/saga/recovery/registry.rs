//! Recovery: saga definitions registered by name and version, resumed from a store's logs;
//! parked sagas listed, retried or resolved by an operator.

use super::recovery_error::RecoveryError;
use super::replay::{Phase, Replay};
use crate::saga::handle::{Run, Saga};
use crate::saga::store::{Claim, Claimed, LogEntry, OutcomeKind, SagaId, SagaStore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A saga definition, its input type erased, as the registry resumes it.
pub(super) trait Resumable: Send + Sync {
    /// Whether `replay` can be resumed, without running anything.
    fn check(&self, id: &SagaId, replay: &Replay) -> Result<(), RecoveryError>;
    fn resume(&self, id: SagaId, replay: &Replay, claim: Claim) -> Result<Run, RecoveryError>;
}

impl<I> Resumable for Saga<I>
where
    I: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn check(&self, id: &SagaId, replay: &Replay) -> Result<(), RecoveryError> {
        self.restore(id, replay).map(drop)
    }

    fn resume(&self, id: SagaId, replay: &Replay, claim: Claim) -> Result<Run, RecoveryError> {
        Saga::resume(self, id, replay, claim)
    }
}

/// The saga definitions a process can resume, by name and version, over one store: what a
/// process runs at start to pick up the sagas an earlier process left unfinished, and what an
/// operator uses for parked sagas.
///
/// Register every definition (and every older version still in flight) built with the same
/// store as the registry (a clone of it), then call [`recover`](Self::recover) at start, and
/// again whenever it reported sagas [held](Recovered::held) by a claim that has yet to expire
/// (a process that died a moment ago) or runs ended [unsettled](crate::saga::SagaError::Unsettled).
///
/// Recovery is safe to run from several registries, in one process or several, at any time:
/// every run holds a claim on its saga in the store (a fresh run from its first entry, a resumed
/// one from before its log is read), so a saga that a live run holds is left alone, and two
/// registries never both resume one saga: each claims the saga in the store's transaction
/// before it reads the log, and only one claim is granted.
///
/// See the [module docs](crate::saga#durability-and-recovery) for what resuming does.
pub struct Registry {
    pub(super) store: Arc<dyn SagaStore>,
    pub(super) definitions: HashMap<&'static str, BTreeMap<u32, Arc<dyn Resumable>>>,
}

/// What [`Registry::recover`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Recovered {
    /// The sagas resumed, each running on its own task. Await them for their outcomes, or
    /// drop them: a resumed run is detached, it goes on to its outcome either way.
    pub resumed: Vec<Run>,
    /// The unfinished sagas that could not be resumed, and why (left untouched in the store).
    pub failed: Vec<RecoveryError>,
    /// The unfinished sagas another run holds: a live run (in this process or another), or one
    /// whose process stopped less than the store's claim time to live ago. Not resumed; call
    /// [`recover`](Registry::recover) again once the claim has expired.
    pub held: Vec<HeldSaga>,
}

/// An unfinished saga held by another run's claim, as [`Registry::recover`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldSaga {
    /// The saga's id.
    pub id: SagaId,
    /// Who holds it ([`Claim::owner`]).
    pub owner: String,
    /// How long until that claim expires, unless its run renews it.
    pub expires_in: Duration,
}

/// A parked saga, as [`Registry::parked`] lists it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ParkedSaga {
    /// The saga's id.
    pub id: SagaId,
    /// Its log read back: the definition, the input, each step's progress, why it turned back.
    pub replay: Replay,
}

/// What [`Registry::parked`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct ParkedSagas {
    /// The parked sagas whose logs were read back.
    pub sagas: Vec<ParkedSaga>,
    /// The parked sagas whose logs could not be loaded or do not read as saga logs, and why.
    pub failed: Vec<RecoveryError>,
}

impl Registry {
    /// An empty registry over `store` (a clone of the store the definitions use, or
    /// [`Saga::store`]`().clone()`).
    pub fn new(store: impl SagaStore) -> Self {
        Self {
            store: Arc::new(store),
            definitions: HashMap::new(),
        }
    }

    /// Registers `saga` under its [`name`](Saga::name) and [`version`](Saga::version).
    ///
    /// Fails if that name and version are registered already.
    pub fn register<I>(&mut self, saga: &Saga<I>) -> Result<&mut Self, RecoveryError>
    where
        I: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let versions = self.definitions.entry(saga.name()).or_default();
        if versions.contains_key(&saga.version()) {
            return Err(RecoveryError::Duplicate {
                definition: saga.name(),
                version: saga.version(),
            });
        }
        versions.insert(saga.version(), Arc::new(saga.clone()));
        Ok(self)
    }

    /// Resumes every unfinished saga in the store that no live run holds, with its registered
    /// definition.
    ///
    /// Each saga is first claimed in the store; only then is its log read and checked, so the
    /// log cannot change under the registry, and a saga another registry claimed first is not
    /// resumed twice. A saga another run holds is reported in [`Recovered::held`]. A saga
    /// whose definition is not registered under the logged name and version, whose log does
    /// not match the definition, or whose input or outputs no longer deserialize is not
    /// resumed: it is reported in [`Recovered::failed`], its claim released, and it stays as it
    /// is in the store, for a later process (with the right definition) or an operator. Fails
    /// only if the store cannot list the unfinished sagas.
    pub async fn recover(&self) -> Result<Recovered, RecoveryError> {
        let ids = self
            .store
            .list_unfinished()
            .await
            .map_err(RecoveryError::Store)?;
        let mut recovered = Recovered {
            resumed: Vec::with_capacity(ids.len()),
            failed: Vec::new(),
            held: Vec::new(),
        };
        for id in ids {
            let claim = Claim::new();
            match self.store.claim(&id, &claim).await {
                Ok(Claimed::Granted) => {}
                Ok(Claimed::Held { owner, expires_in }) => {
                    recovered.held.push(HeldSaga {
                        id,
                        owner,
                        expires_in,
                    });
                    continue;
                }
                // It finished between the listing and the claim.
                Ok(Claimed::NotRunning) => continue,
                Err(e) => {
                    recovered.failed.push(RecoveryError::Store(e));
                    continue;
                }
            }
            match self.resume_claimed(id, claim).await {
                Ok(run) => recovered.resumed.push(run),
                Err(e) => recovered.failed.push(e),
            }
        }
        Ok(recovered)
    }

    /// Resumes saga `id`, which `claim` holds: reads its fencing number (if the store numbers
    /// holds) and its log, and resumes it; on failure releases the claim.
    pub(super) async fn resume_claimed(
        &self,
        id: SagaId,
        claim: Claim,
    ) -> Result<Run, RecoveryError> {
        let resumed = match self.fenced(&id, claim.clone()).await {
            Ok(claim) => match self.replay(&id).await {
                Ok(replay) => self
                    .definition(&id, &replay)
                    .and_then(|def| def.resume(id.clone(), &replay, claim)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if resumed.is_err() {
            let _ = self.store.release(&id, &claim).await;
        }
        resumed
    }

    /// `claim`, with its fencing number on saga `id` if the store numbers holds and the claim
    /// has none yet.
    async fn fenced(&self, id: &SagaId, claim: Claim) -> Result<Claim, RecoveryError> {
        if claim.fence().is_some() || !self.store.fences() {
            return Ok(claim);
        }
        match self.store.fence(id, &claim).await {
            Ok(Some(fence)) => Ok(claim.with_fence(fence)),
            Ok(None) => Ok(claim),
            Err(e) => Err(RecoveryError::Store(e)),
        }
    }

    /// The parked sagas in the store, with their logs read back; a parked saga whose log
    /// cannot be loaded or read is reported in [`ParkedSagas::failed`], the others are listed.
    /// Fails only if the store cannot list the parked sagas.
    pub async fn parked(&self) -> Result<ParkedSagas, RecoveryError> {
        let ids = self
            .store
            .list_parked()
            .await
            .map_err(RecoveryError::Store)?;
        let mut parked = ParkedSagas {
            sagas: Vec::with_capacity(ids.len()),
            failed: Vec::new(),
        };
        for id in ids {
            match self.replay(&id).await {
                Ok(replay) => parked.sagas.push(ParkedSaga { id, replay }),
                Err(e) => parked.failed.push(e),
            }
        }
        Ok(parked)
    }

    /// Tries the compensations of parked saga `id` again: records a
    /// [`LogEntry::Reopened`] with `note` (which claims the saga for the new run, in the same
    /// transaction), then resumes the saga compensating, from the stuck compensations back
    /// (each with its retry policy afresh). The run ends compensated, or parked again.
    ///
    /// Fails, recording nothing, if the saga is not parked or cannot be resumed (its
    /// definition is not registered, or does not match the log).
    pub async fn retry_compensation(&self, id: &SagaId, note: &str) -> Result<Run, RecoveryError> {
        let mut replay = self.parked_replay(id).await?;
        replay.phase = Phase::Compensating;
        let definition = self.definition(id, &replay)?;
        definition.check(id, &replay)?;
        let entry = LogEntry::Reopened {
            note: note.to_owned(),
        };
        let claim = Claim::new();
        self.store
            .append(id, &entry, &claim)
            .await
            .map_err(RecoveryError::Store)?;
        // Read back with the operator's entry: compensations in doubt may run now.
        let resumed = match self.fenced(id, claim.clone()).await {
            Ok(fenced) => match self.replay(id).await {
                Ok(replay) => definition.resume(id.clone(), &replay, fenced),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if resumed.is_err() {
            let _ = self.store.release(id, &claim).await;
        }
        resumed
    }

    /// Marks parked saga `id` as resolved by hand (the operator undid or finished what was
    /// left), recording a [`LogEntry::Resolved`] with `note`. Nothing more runs for it.
    ///
    /// Fails, recording nothing, if the saga is not parked.
    pub async fn mark_resolved(&self, id: &SagaId, note: &str) -> Result<(), RecoveryError> {
        self.parked_replay(id).await?;
        let entry = LogEntry::Resolved {
            note: note.to_owned(),
        };
        // A parked saga has no claim; the store checks that it is parked.
        self.store
            .append(id, &entry, &Claim::new())
            .await
            .map_err(RecoveryError::Store)
    }

    async fn replay(&self, id: &SagaId) -> Result<Replay, RecoveryError> {
        let log = self.store.load(id).await.map_err(RecoveryError::Store)?;
        if log.is_empty() {
            return Err(RecoveryError::NotFound { id: id.clone() });
        }
        Replay::from_log(&log).map_err(|source| RecoveryError::Log {
            id: id.clone(),
            source,
        })
    }

    async fn parked_replay(&self, id: &SagaId) -> Result<Replay, RecoveryError> {
        let replay = self.replay(id).await?;
        if replay.phase != Phase::Finished(OutcomeKind::Parked) {
            return Err(RecoveryError::NotParked {
                id: id.clone(),
                phase: replay.phase,
            });
        }
        Ok(replay)
    }

    /// The registered definition the log names, with the logged version.
    fn definition(&self, id: &SagaId, replay: &Replay) -> Result<&dyn Resumable, RecoveryError> {
        let Some(versions) = self.definitions.get(replay.definition.as_str()) else {
            return Err(RecoveryError::UnknownDefinition {
                id: id.clone(),
                definition: replay.definition.clone(),
            });
        };
        match versions.get(&replay.version) {
            Some(definition) => Ok(&**definition),
            None => Err(RecoveryError::VersionMismatch {
                id: id.clone(),
                definition: replay.definition.clone(),
                logged: replay.version,
                registered: versions.keys().copied().collect(),
            }),
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let definitions: BTreeMap<_, Vec<_>> = self
            .definitions
            .iter()
            .map(|(name, versions)| (*name, versions.keys().collect()))
            .collect();
        f.debug_struct("Registry")
            .field("store", &self.store)
            .field("definitions", &definitions)
            .finish()
    }
}
