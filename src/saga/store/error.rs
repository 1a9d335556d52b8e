//! What a store's failure says: whether anything may have been written.

use crate::BoxError;

/// A store failed to record or read a saga's log, or refused an entry; says whether anything
/// may have been written.
#[derive(Debug, thiserror::Error)]
#[error("{}", match .kind {
    Kind::Failed => "saga store failed",
    Kind::Refused => "saga store refused the request",
    Kind::OutcomeUnknown => "saga store failed; the request may have been applied",
})]
pub struct StoreError {
    kind: Kind,
    #[source]
    source: BoxError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Failed,
    Refused,
    OutcomeUnknown,
}

impl StoreError {
    /// The store failed (an I/O error, a locked database, a corrupt entry) and wrote nothing;
    /// trying again may succeed.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            kind: Kind::Failed,
            source: source.into(),
        }
    }

    /// The store checked the request and refused it (an id used twice, an entry for a saga that
    /// is not running, a claim that does not hold the saga); it wrote nothing, and trying again
    /// will not help.
    pub fn refused(source: impl Into<BoxError>) -> Self {
        Self {
            kind: Kind::Refused,
            source: source.into(),
        }
    }

    /// The store cannot tell whether the request was applied (the connection was lost while the
    /// commit was in flight).
    pub fn outcome_unknown(source: impl Into<BoxError>) -> Self {
        Self {
            kind: Kind::OutcomeUnknown,
            source: source.into(),
        }
    }

    /// Whether the store refused the request after checking it ([`refused`](Self::refused)).
    pub fn is_refused(&self) -> bool {
        self.kind == Kind::Refused
    }

    /// Whether the request may have been applied although it failed
    /// ([`outcome_unknown`](Self::outcome_unknown)).
    pub fn may_have_been_applied(&self) -> bool {
        self.kind == Kind::OutcomeUnknown
    }
}
