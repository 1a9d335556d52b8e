//! The shared state of a rate limiter: the limit, its cell (or its Redis store), the clock and
//! the counters.

use super::gcra::{Cell, Decision, Gcra};
use super::{Event, Metrics, RateLimited};
use crate::event::Listeners;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub(super) struct Shared {
    gcra: Gcra,
    /// The rate as given (`n` per `per`), for `settings()`.
    rate: (u64, Duration),
    cell: Cell,
    /// The instant the cell's nanoseconds count from.
    epoch: Instant,
    max_wait: Duration,
    max_wait_nanos: u64,
    burst: u64,
    pub(super) listeners: Listeners<Event>,
    #[cfg(feature = "redis")]
    redis: Option<super::redis::RedisBackend>,
    admitted: AtomicU64,
    rejected: AtomicU64,
    waited: AtomicU64,
    cancelled: AtomicU64,
    unavailable: AtomicU64,
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
    /// The decision is a round trip to Redis away.
    #[cfg(feature = "redis")]
    Ask(super::redis::Ask),
}

impl Shared {
    pub(super) fn new(
        gcra: Gcra,
        rate: (u64, Duration),
        burst: u64,
        max_wait: Duration,
        listeners: Listeners<Event>,
        #[cfg(feature = "redis")] redis: Option<super::RedisStore>,
    ) -> Self {
        Self {
            gcra,
            rate,
            cell: Cell::new(),
            epoch: Instant::now(),
            max_wait,
            max_wait_nanos: nanos(max_wait),
            burst,
            listeners,
            #[cfg(feature = "redis")]
            redis: redis.map(|s| super::redis::RedisBackend::new(s, gcra, burst, max_wait)),
            admitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the epoch, on tokio's clock (so a paused clock drives it).
    #[inline]
    pub(super) fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.epoch))
    }

    #[cfg(feature = "redis")]
    pub(super) fn max_wait_nanos(&self) -> u64 {
        self.max_wait_nanos
    }

    #[cfg(feature = "redis")]
    pub(super) fn redis(&self) -> Option<&super::redis::RedisBackend> {
        self.redis.as_ref()
    }

    /// Whether the limit's state is the local cell (not in Redis).
    fn is_local(&self) -> bool {
        #[cfg(feature = "redis")]
        if self.redis.is_some() {
            return false;
        }
        true
    }

    /// Decides one call that may not wait: admitted, or turned away.
    #[inline]
    pub(super) fn try_admit(&self) -> Result<(), RateLimited> {
        if !self.is_local() {
            // No decision without a round trip.
            return Err(self.rejected_unavailable());
        }
        match self.gcra.decide(&self.cell, || self.now(), 0).1 {
            Decision::Admitted => {
                self.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Decision::Rejected { retry_after } => {
                Err(self.rejected(Duration::from_nanos(retry_after)))
            }
            // Not with a `max_wait` of zero; counted as a rejection all the same.
            Decision::Scheduled { .. } => Err(self.rejected(Duration::ZERO)),
        }
    }

    /// Decides one call, which may wait up to `max_wait` for its turn.
    #[inline]
    pub(super) fn admit(self: &Arc<Self>) -> Admission {
        #[cfg(feature = "redis")]
        if self.redis.is_some() {
            return Admission::Ask(super::redis::ask(Arc::clone(self)));
        }
        self.admit_local()
    }

    /// [`admit`](Self::admit) on the local cell.
    #[inline]
    pub(super) fn admit_local(self: &Arc<Self>) -> Admission {
        let (now, decision) = self
            .gcra
            .decide(&self.cell, || self.now(), self.max_wait_nanos);
        match decision {
            Decision::Admitted => self.admitted_now(),
            Decision::Rejected { retry_after } => {
                Admission::Rejected(self.rejected(Duration::from_nanos(retry_after)))
            }
            Decision::Scheduled { at, tat } => {
                self.scheduled(Duration::from_nanos(at - now), Some(tat))
            }
        }
    }

    #[inline]
    pub(super) fn admitted_now(&self) -> Admission {
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Admission::Now
    }

    /// A call whose turn is `wait` from now; `tat` is what the local cell holds after its
    /// reservation (none for a turn reserved in Redis, which is not given back).
    ///
    /// A turn no timer can wait for, past the last instant `Instant` holds (only a clock
    /// advanced to the far end of its range, as a paused one can be, has such turns within
    /// `max_wait`), is turned away with its wait as `retry_after`, and given back as a
    /// cancelled call's is.
    pub(super) fn scheduled(self: &Arc<Self>, wait: Duration, tat: Option<u64>) -> Admission {
        let at = Instant::now()
            .checked_add(wait)
            .filter(|at| at.checked_add(TIMER_ROUNDING).is_some());
        let Some(at) = at else {
            if let Some(tat) = tat {
                self.gcra.cancel(&self.cell, tat);
            }
            return Admission::Rejected(self.rejected(wait));
        };
        Admission::At {
            at,
            reservation: Reservation {
                shared: Arc::clone(self),
                tat,
                waited: wait,
                armed: true,
            },
        }
    }

    #[cold]
    pub(super) fn rejected(&self, retry_after: Duration) -> RateLimited {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.listeners
            .emit(|name| Event::Rejected { name, retry_after });
        RateLimited::new(retry_after)
    }

    /// Turned away because the store did not answer; try again after one interval.
    #[cold]
    pub(super) fn rejected_unavailable(&self) -> RateLimited {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let retry_after = Duration::from_nanos(self.gcra.interval());
        self.listeners
            .emit(|name| Event::Rejected { name, retry_after });
        RateLimited::unavailable(retry_after)
    }

    #[cfg(feature = "redis")]
    pub(super) fn count_unavailable(&self) {
        self.unavailable.fetch_add(1, Ordering::Relaxed);
    }

    /// A limiter with these settings, name and listeners, and a full burst (a keyed limiter's
    /// instance for a new key). `None` for a limiter whose state is in Redis: every instance
    /// would share its one key there.
    #[cfg(feature = "keyed")]
    pub(super) fn fresh(&self) -> Option<Self> {
        if !self.is_local() {
            return None;
        }
        Some(Self::new(
            self.gcra,
            self.rate,
            self.burst,
            self.max_wait,
            self.listeners.clone(),
            #[cfg(feature = "redis")]
            None,
        ))
    }

    /// Whether a fresh limiter would decide every call as this one does: no turn reserved, the
    /// whole burst available again.
    #[cfg(feature = "keyed")]
    pub(super) fn is_full(&self) -> bool {
        self.is_local() && self.gcra.is_full(&self.cell, self.now())
    }

    /// How long until a call would be admitted at once, on the local cell.
    pub(super) fn retry_after(&self) -> Duration {
        Duration::from_nanos(self.gcra.wait_at(&self.cell, self.now()))
    }

    pub(super) fn metrics(&self) -> Metrics {
        Metrics {
            admitted: self.admitted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            interval: Duration::from_nanos(self.gcra.interval()),
            burst: self.burst,
            max_wait: self.max_wait,
        }
    }
}

impl Shared {
    pub(super) fn settings(&self) -> super::Settings {
        super::Settings {
            rate: self.rate.0,
            per: self.rate.1,
            burst: self.burst,
            max_wait: self.max_wait,
        }
    }
}

/// What tokio's timer adds to a deadline to round it up to a whole millisecond: a deadline
/// closer than this to the last instant would overflow there.
const TIMER_ROUNDING: Duration = Duration::from_millis(1);

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A turn reserved for a call that waits. Dropped before [`complete`](Self::complete) (the call
/// was cancelled), it gives the turn back to the local cell if no later call has reserved one
/// since; otherwise (or in Redis) the turn goes unused.
pub(super) struct Reservation {
    shared: Arc<Shared>,
    tat: Option<u64>,
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
        shared.listeners.emit(|name| Event::Waited { name, waited });
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
            if let Some(tat) = self.tat {
                self.shared.gcra.cancel(&self.shared.cell, tat);
            }
        }
    }
}
