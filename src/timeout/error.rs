//! The error a timeout produces.

use crate::Name;
use std::fmt;
use std::time::Duration;

/// A call or a wait for readiness took longer than its timeout.
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<Elapsed>()` or `err.downcast_ref::<Elapsed>()`); the standalone
/// [`Timeout::run`](super::Timeout::run) returns it as is.
///
/// It carries the timeout's [`name`](Self::name), which its message prints:
/// `timed out "payments" after 1s` (`timed out after 1s` for a timeout that kept its default
/// name).
///
/// ```
/// use std::time::Duration;
/// use bulwark::timeout::Timeout;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let timeout = Timeout::new(Duration::from_secs(1)).name("payments");
/// let err = timeout.run(std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(err.after(), Duration::from_secs(1));
/// assert_eq!(err.name(), "payments");
/// assert_eq!(err.to_string(), "timed out \"payments\" after 1s");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
    readiness: bool,
    name: Name,
}

impl Elapsed {
    pub(crate) const fn call(after: Duration, name: Name) -> Self {
        Self {
            after,
            readiness: false,
            name,
        }
    }

    pub(crate) const fn readiness(after: Duration, name: Name) -> Self {
        Self {
            after,
            readiness: true,
            name,
        }
    }

    /// The name of the timeout that ran out.
    pub fn name(&self) -> &Name {
        &self.name
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
        let name = crate::name::Quoted(&self.name, "timeout");
        if self.readiness {
            write!(
                f,
                "timed out{name} after {:?} waiting for readiness",
                self.after
            )
        } else {
            write!(f, "timed out{name} after {:?}", self.after)
        }
    }
}

impl std::error::Error for Elapsed {}
