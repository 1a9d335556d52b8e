//! The errors of the bulkhead pattern.

use std::fmt;
use std::time::Duration;

/// Why a bulkhead turned a call away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Every slot was taken and the queue was full (or `max_queued` is 0).
    QueueFull,
    /// The call waited in the queue for `max_wait` without getting a slot.
    TimedOut {
        /// The `max_wait` that ran out.
        after: Duration,
    },
}

/// A bulkhead turned a call away: no slot was free and the call could not wait for one.
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<BulkheadFull>()` or `err.downcast_ref::<BulkheadFull>()`); the standalone
/// [`Bulkhead::run`](super::Bulkhead::run) returns it inside [`BulkheadError::Full`].
///
/// A call turned away was never started: the inner service was not called, the closure not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkheadFull {
    reason: Reason,
}

impl BulkheadFull {
    pub(crate) const fn queue_full() -> Self {
        Self {
            reason: Reason::QueueFull,
        }
    }

    pub(crate) const fn timed_out(after: Duration) -> Self {
        Self {
            reason: Reason::TimedOut { after },
        }
    }

    /// Why the call was turned away.
    pub const fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether the queue was full, so the call was turned away without waiting.
    pub const fn is_queue_full(&self) -> bool {
        matches!(self.reason, Reason::QueueFull)
    }

    /// Whether the call waited `max_wait` in the queue and gave up.
    pub const fn is_timed_out(&self) -> bool {
        matches!(self.reason, Reason::TimedOut { .. })
    }
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::QueueFull => f.write_str("bulkhead full: queue full"),
            Reason::TimedOut { after } => {
                write!(f, "bulkhead full: no slot within {after:?}")
            }
        }
    }
}

impl std::error::Error for BulkheadFull {}

/// The error of [`Bulkhead::run`](super::Bulkhead::run): the bulkhead turned the call away, or the
/// call ran and failed.
///
/// One flat type, so a single `?` handles both. Both variants are transparent: `Display` and
/// `source()` are those of the error inside.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BulkheadError<E> {
    /// The bulkhead turned the call away; the closure was never run.
    #[error(transparent)]
    Full(#[from] BulkheadFull),
    /// The call ran and returned this error.
    #[error(transparent)]
    Inner(E),
}

impl<E> BulkheadError<E> {
    /// Whether the bulkhead turned the call away.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// The rejection, if the bulkhead turned the call away.
    pub fn full(&self) -> Option<&BulkheadFull> {
        match self {
            Self::Full(full) => Some(full),
            Self::Inner(_) => None,
        }
    }

    /// The call's own error, if it ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Full(_) => None,
            Self::Inner(e) => Some(e),
        }
    }
}

/// An invalid bulkhead setting, from [`Builder::build`](super::Builder::build) or a run-time change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid bulkhead setting `{field}`: {reason}")]
pub struct ConfigError {
    field: &'static str,
    reason: &'static str,
}

impl ConfigError {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }

    /// The setting that was rejected (`"max_concurrent"`, `"max_wait"`).
    pub const fn field(&self) -> &'static str {
        self.field
    }

    /// Why it was rejected.
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}
