//! Why a saga could not be resumed, retried or resolved.

use super::replay::{Phase, ReplayError};
use crate::saga::store::{SagaId, StoreError};

/// A saga could not be resumed, retried or resolved; the store is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// No saga with this id is in the store.
    #[error("no saga `{id}` in the store")]
    NotFound {
        /// The saga's id.
        id: SagaId,
    },
    /// The saga's log does not read as a saga's log.
    #[error("saga `{id}`: unreadable log")]
    Log {
        /// The saga's id.
        id: SagaId,
        /// Where and why.
        #[source]
        source: ReplayError,
    },
    /// No definition of that name is registered.
    #[error("saga `{id}` was started by definition `{definition}`, which is not registered")]
    UnknownDefinition {
        /// The saga's id.
        id: SagaId,
        /// The definition's name, from the log.
        definition: String,
    },
    /// The definition is registered, but not the version that started the saga: it is never
    /// resumed with another version.
    #[error(
        "saga `{id}` was started by `{definition}` version {logged}, registered versions: {registered:?}"
    )]
    VersionMismatch {
        /// The saga's id.
        id: SagaId,
        /// The definition's name.
        definition: String,
        /// The version in the log.
        logged: u32,
        /// The versions registered under that name.
        registered: Vec<u32>,
    },
    /// The log names steps the definition does not have (changed without a new version).
    #[error("saga `{id}`: the log does not match `{definition}` version {version}: {reason}")]
    Mismatch {
        /// The saga's id.
        id: SagaId,
        /// The definition's name.
        definition: &'static str,
        /// Its version.
        version: u32,
        /// What differs.
        reason: String,
    },
    /// The logged input does not deserialize into the definition's input type.
    #[error("saga `{id}`: the logged input does not deserialize")]
    Input {
        /// The saga's id.
        id: SagaId,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// A logged output does not deserialize into its step's output type.
    #[error("saga `{id}`: the logged output of step `{step}` does not deserialize")]
    Output {
        /// The saga's id.
        id: SagaId,
        /// The step.
        step: &'static str,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// The saga has finished: there is nothing to resume.
    #[error("saga `{id}` has finished ({phase:?})")]
    Finished {
        /// The saga's id.
        id: SagaId,
        /// How it finished.
        phase: Phase,
    },
    /// An operator's action on a saga that is not parked.
    #[error("saga `{id}` is not parked ({phase:?})")]
    NotParked {
        /// The saga's id.
        id: SagaId,
        /// Where it stands.
        phase: Phase,
    },
    /// [`Registry::register`](crate::saga::Registry::register) was given a name and version registered already.
    #[error("saga definition `{definition}` version {version} is registered twice")]
    Duplicate {
        /// The definition's name.
        definition: &'static str,
        /// Its version.
        version: u32,
    },
}
