//! The shared state of a local rate limiter: the limit, its one cell, the clock and the counters.

use super::gcra::{Cell, Decision, Gcra};
use super::{Event, Metrics, RateLimited};
use crate::event::Listeners;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub(super) struct Shared {
    gcra: Gcra,
    cell: Cell,
    /// The instant the cell's nanoseconds count from.
    epoch: Instant,
    max_wait: Duration,
    max_wait_nanos: u64,
    burst: u64,
    pub(super) listeners: Listeners<Event>,
    admitted: AtomicU64,
    rejected: AtomicU64,
    waited: AtomicU64,
    cancelled: AtomicU64,
}

/// What a call got from the limiter.
pub(super) enum Admission {
    /// Go ahead now.
    Now,
    /// Go ahead at `at`, holding the reservation until then.
    At {
        at: Instant,
        reservation: Reservation,
    },
    /// Turned away.
    Rejected(RateLimited),
}

impl Shared {
    pub(super) fn new(
        gcra: Gcra,
        burst: u64,
        max_wait: Duration,
        listeners: Listeners<Event>,
    ) -> Self {
        Self {
            gcra,
            cell: Cell::new(),
            epoch: Instant::now(),
            max_wait,
            max_wait_nanos: nanos(max_wait),
            burst,
            listeners,
            admitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the epoch, on tokio's clock (so a paused clock drives it).
    #[inline]
    fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.epoch))
    }

    /// Decides one call that may not wait: admitted, or turned away.
    #[inline]
    pub(super) fn try_admit(&self) -> Result<(), RateLimited> {
        match self.gcra.decide(&self.cell, || self.now(), 0).1 {
            Decision::Admitted => {
                self.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Decision::Rejected { retry_after } => Err(self.rejected(retry_after)),
            // Not with a `max_wait` of zero; counted as a rejection all the same.
            Decision::Scheduled { .. } => Err(self.rejected(0)),
        }
    }

    /// Decides one call, which may wait up to `max_wait` for its turn.
    #[inline]
    pub(super) fn admit(self: &Arc<Self>) -> Admission {
        let (now, decision) = self
            .gcra
            .decide(&self.cell, || self.now(), self.max_wait_nanos);
        match decision {
            Decision::Admitted => {
                self.admitted.fetch_add(1, Ordering::Relaxed);
                Admission::Now
            }
            Decision::Rejected { retry_after } => Admission::Rejected(self.rejected(retry_after)),
            Decision::Scheduled { at, tat } => Admission::At {
                at: self.instant(at),
                reservation: Reservation {
                    shared: Arc::clone(self),
                    tat,
                    waited: Duration::from_nanos(at - now),
                    armed: true,
                },
            },
        }
    }

    /// The instant `nanos` after the epoch (30 years ahead of it if that cannot be represented).
    fn instant(&self, nanos: u64) -> Instant {
        self.epoch
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or_else(|| self.epoch + Duration::from_secs(30 * 365 * 86_400))
    }

    #[cold]
    fn rejected(&self, retry_after: u64) -> RateLimited {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let retry_after = Duration::from_nanos(retry_after);
        self.listeners.emit(|| Event::Rejected { retry_after });
        RateLimited::new(retry_after)
    }

    /// How long until a call would be admitted at once.
    pub(super) fn retry_after(&self) -> Duration {
        Duration::from_nanos(self.gcra.wait_at(&self.cell, self.now()))
    }

    pub(super) fn metrics(&self) -> Metrics {
        Metrics {
            admitted: self.admitted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            interval: Duration::from_nanos(self.gcra.interval()),
            burst: self.burst,
            max_wait: self.max_wait,
        }
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A slot reserved for a call that waits for its turn. Dropped before [`complete`](Self::complete)
/// (the call was cancelled), it gives the slot back if no later call has reserved one since;
/// otherwise the slot goes unused.
pub(super) struct Reservation {
    shared: Arc<Shared>,
    tat: u64,
    waited: Duration,
    armed: bool,
}

impl Reservation {
    /// The call's turn has come: it is admitted.
    pub(super) fn complete(mut self) {
        self.armed = false;
        let shared = &self.shared;
        shared.admitted.fetch_add(1, Ordering::Relaxed);
        shared.waited.fetch_add(1, Ordering::Relaxed);
        let waited = self.waited;
        shared.listeners.emit(|| Event::Waited { waited });
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
            self.shared.gcra.cancel(&self.shared.cell, self.tat);
        }
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("waited", &self.waited)
            .finish()
    }
}
