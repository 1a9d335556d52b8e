//! The error a timeout produces.

use std::fmt;
use std::time::Duration;

/// A call or a wait for readiness took longer than its timeout.
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<Elapsed>()` or `err.downcast_ref::<Elapsed>()`); the standalone
/// [`Timeout::run`](super::Timeout::run) returns it as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
    readiness: bool,
}

impl Elapsed {
    pub(crate) const fn call(after: Duration) -> Self {
        Self {
            after,
            readiness: false,
        }
    }

    pub(crate) const fn readiness(after: Duration) -> Self {
        Self {
            after,
            readiness: true,
        }
    }

    /// How long the call (or the wait for readiness) was allowed to take.
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// Whether the time ran out while waiting for the inner service to become ready
    /// (see [`TimeoutLayer::backpressure_timeout`](super::TimeoutLayer::backpressure_timeout)),
    /// rather than during the call itself. When it did, the inner service was never called.
    pub const fn while_waiting_for_readiness(&self) -> bool {
        self.readiness
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.readiness {
            write!(f, "timed out after {:?} waiting for readiness", self.after)
        } else {
            write!(f, "timed out after {:?}", self.after)
        }
    }
}

impl std::error::Error for Elapsed {}
