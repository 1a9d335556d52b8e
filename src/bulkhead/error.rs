//! The tower rejection of the bulkhead pattern, and why it happened.

use crate::Name;
use std::fmt;
use std::time::Duration;

/// Why a bulkhead turned a call away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullReason {
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
/// [`Bulkhead::run`](super::Bulkhead::run) returns it inside [`Error::BulkheadFull`](crate::Error::BulkheadFull).
///
/// A call turned away was never started: the inner service was not called, the closure not run.
///
/// It carries the bulkhead's [`name`](Self::name), which its message prints:
/// `bulkhead "payments" is full: queue full` (`bulkhead is full: ...` for a bulkhead that kept
/// its default name).
///
/// ```
/// use bulwark::Error;
/// use bulwark::bulkhead::{Bulkhead, FullReason};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let bulkhead = Bulkhead::builder().name("exports").max_concurrent(1).build()?;
/// let held = bulkhead.run(|| std::future::pending::<Result<(), std::io::Error>>());
/// let turned_away = bulkhead.run(|| async { Ok::<_, std::io::Error>(()) });
/// tokio::pin!(held);
/// let _ = futures::poll!(held.as_mut()); // the first call takes the only slot
/// let Err(Error::BulkheadFull(full)) = turned_away.await else { panic!("expected a refusal") };
/// assert_eq!(full.reason(), FullReason::QueueFull);
/// assert_eq!(full.to_string(), "bulkhead \"exports\" is full: queue full");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkheadFull {
    reason: FullReason,
    name: Name,
}

impl BulkheadFull {
    pub(crate) const fn queue_full(name: Name) -> Self {
        Self {
            reason: FullReason::QueueFull,
            name,
        }
    }

    pub(crate) const fn timed_out(after: Duration, name: Name) -> Self {
        Self {
            reason: FullReason::TimedOut { after },
            name,
        }
    }

    /// The name of the bulkhead that turned the call away.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Why the call was turned away.
    pub const fn reason(&self) -> FullReason {
        self.reason
    }

    /// Whether the queue was full, so the call was turned away without waiting.
    pub const fn is_queue_full(&self) -> bool {
        matches!(self.reason, FullReason::QueueFull)
    }

    /// Whether the call waited `max_wait` in the queue and gave up.
    pub const fn is_timed_out(&self) -> bool {
        matches!(self.reason, FullReason::TimedOut { .. })
    }
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = crate::name::Quoted(&self.name, "bulkhead");
        match self.reason {
            FullReason::QueueFull => write!(f, "bulkhead{name} is full: queue full"),
            FullReason::TimedOut { after } => {
                write!(f, "bulkhead{name} is full: no slot within {after:?}")
            }
        }
    }
}

impl std::error::Error for BulkheadFull {}

impl FullReason {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"queue_full"`,
    /// `"timed_out"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            FullReason::QueueFull => "queue_full",
            FullReason::TimedOut { .. } => "timed_out",
        }
    }
}
