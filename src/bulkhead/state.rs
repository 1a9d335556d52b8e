//! The shared state of a bulkhead: the semaphore of slots, the queue count, the limits.
//!
//! Slots are the permits of a `tokio::sync::Semaphore`, which serves its waiters first in, first
//! out. What the semaphore lacks is built here:
//!
//! - a bound on the number of waiters: `queued` is reserved with a compare-and-swap before a call
//!   joins the semaphore's queue, so it never exceeds `max_queued`, and released when the wait ends
//!   (admitted, timed out or dropped);
//! - a limit that can shrink while calls are running: the permits that cannot be taken away at
//!   once (because running calls hold them) become a `debt`, paid by the next releases, which
//!   forget their permit instead of returning it. At every moment
//!   `permits held + permits available == max_concurrent + debt`.

use super::Event;
use crate::ConfigError;
use crate::event::Listeners;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

pub(super) struct Shared {
    pub(super) semaphore: Semaphore,
    pub(super) max_wait: Option<Duration>,
    pub(super) listeners: Listeners<Event>,
    max_concurrent: AtomicUsize,
    max_queued: AtomicUsize,
    queued: AtomicUsize,
    /// Permits still to be taken out of circulation after `max_concurrent` was lowered.
    /// Changed only under `resize`; read without it.
    debt: AtomicUsize,
    resize: Mutex<()>,
    rejected_queue_full: AtomicU64,
    rejected_timed_out: AtomicU64,
}

/// Checks a `max_concurrent` value.
pub(super) fn check_max_concurrent(n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(ConfigError::new(
            "bulkhead",
            "max_concurrent",
            "must be at least 1",
        ));
    }
    if n > Semaphore::MAX_PERMITS {
        return Err(ConfigError::new(
            "bulkhead",
            "max_concurrent",
            "must be at most tokio's Semaphore::MAX_PERMITS (usize::MAX >> 3)",
        ));
    }
    Ok(n)
}

impl Shared {
    pub(super) fn new(
        max_concurrent: usize,
        max_queued: usize,
        max_wait: Option<Duration>,
        listeners: Listeners<Event>,
    ) -> Self {
        #[cfg(feature = "metrics")]
        if let Some(i) = listeners.instruments() {
            i.max_concurrent.set(max_concurrent as f64);
            i.max_queued.set(max_queued as f64);
        }
        Self {
            semaphore: Semaphore::new(max_concurrent),
            max_wait,
            listeners,
            max_concurrent: AtomicUsize::new(max_concurrent),
            max_queued: AtomicUsize::new(max_queued),
            queued: AtomicUsize::new(0),
            debt: AtomicUsize::new(0),
            resize: Mutex::new(()),
            rejected_queue_full: AtomicU64::new(0),
            rejected_timed_out: AtomicU64::new(0),
        }
    }

    /// Takes a free slot, if one is free and nobody waits for it (the semaphore hands released
    /// permits to its waiters directly, so a free permit means an empty queue).
    #[inline]
    fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let permit = self.semaphore.try_acquire().ok()?;
        permit.forget();
        self.keep()
    }

    /// The fast path of every door: takes a free slot, if one is free and nobody waits, and
    /// reports the admission.
    #[inline]
    pub(super) fn try_admit(self: &Arc<Self>) -> Option<Permit> {
        let permit = self.try_acquire()?;
        self.emit_admitted(Duration::ZERO);
        Some(permit)
    }

    /// Wraps a permit the semaphore's queue handed over.
    pub(super) fn admit_queued(
        self: &Arc<Self>,
        permit: tokio::sync::SemaphorePermit<'_>,
    ) -> Option<Permit> {
        permit.forget();
        self.keep()
    }

    /// Keeps a permit just taken out of the semaphore, unless a debt is owed: then the permit
    /// pays it and the caller has no slot. A permit is only free while a debt is owed when a
    /// release raced with `set_max_concurrent`; taking it synchronises with that call (the
    /// semaphore's count is only changed by read-modify-writes), so the debt is seen here.
    #[inline]
    fn keep(self: &Arc<Self>) -> Option<Permit> {
        if self.debt.load(Ordering::Acquire) > 0 {
            let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
            if self.debt.load(Ordering::Relaxed) > 0 {
                self.debt.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
        }
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.in_flight.increment(1.0);
        }
        Some(Permit {
            shared: Arc::clone(self),
        })
    }

    /// Reserves a place in the queue, if there is room.
    pub(super) fn try_enqueue(self: &Arc<Self>) -> Option<QueueSlot> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |q| {
                (q < self.max_queued.load(Ordering::Relaxed)).then_some(q + 1)
            })
            .ok()?;
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.queued.increment(1.0);
        }
        Some(QueueSlot {
            shared: Arc::clone(self),
        })
    }

    /// The bulkhead's name (a cheap clone), for a rejection.
    pub(super) fn name(&self) -> crate::Name {
        *self.listeners.name()
    }

    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    #[inline]
    pub(super) fn emit_admitted(&self, waited: Duration) {
        self.listeners.emit(|name| Event::Admitted { name, waited });
    }

    pub(super) fn count_rejection(&self, timed_out: bool) {
        let counter = if timed_out {
            &self.rejected_timed_out
        } else {
            &self.rejected_queue_full
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns one slot: forgotten if there is a debt to pay, else back to the semaphore (which
    /// hands it to the first waiter).
    ///
    /// A release that reads no debt just before `set_max_concurrent` records one may put its
    /// permit back after that call took the free permits: `keep` catches such a permit when it
    /// is next taken, so it never admits a call past the limit.
    #[inline]
    fn release(&self) {
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.in_flight.decrement(1.0);
        }
        if self.debt.load(Ordering::Acquire) > 0 {
            let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
            if self.debt.load(Ordering::Relaxed) > 0 {
                self.debt.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
        self.semaphore.add_permits(1);
    }

    /// Takes free permits out of circulation to pay the debt. Call with `resize` held.
    fn pay_debt_locked(&self) {
        let debt = self.debt.load(Ordering::Relaxed);
        let paid = self.semaphore.forget_permits(debt);
        self.debt.fetch_sub(paid, Ordering::Relaxed);
    }

    pub(super) fn set_max_concurrent(&self, n: usize) -> Result<(), ConfigError> {
        let n = check_max_concurrent(n)?;
        let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.max_concurrent.swap(n, Ordering::Relaxed);
        let debt = self.debt.load(Ordering::Relaxed);
        if n >= old {
            let paid = debt.min(n - old);
            self.debt.fetch_sub(paid, Ordering::Relaxed);
            self.semaphore.add_permits(n - old - paid);
        } else {
            // Recorded before the free permits are taken (a release of the semaphore's count by
            // `forget_permits`), so whoever takes a permit put back later sees the debt: see `keep`.
            self.debt.fetch_add(old - n, Ordering::Release);
            self.pay_debt_locked();
        }
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.max_concurrent.set(n as f64);
        }
        Ok(())
    }

    pub(super) fn set_max_queued(&self, n: usize) {
        self.max_queued.store(n, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.max_queued.set(n as f64);
        }
    }

    pub(super) fn metrics(&self) -> super::Metrics {
        let max_concurrent = self.max_concurrent.load(Ordering::Relaxed);
        let debt = self.debt.load(Ordering::Relaxed);
        let available = self.semaphore.available_permits();
        super::Metrics {
            in_flight: (max_concurrent + debt).saturating_sub(available),
            queued: self.queued(),
            rejected_queue_full: self.rejected_queue_full.load(Ordering::Relaxed),
            rejected_timed_out: self.rejected_timed_out.load(Ordering::Relaxed),
            max_concurrent,
            max_queued: self.max_queued.load(Ordering::Relaxed),
            max_wait: self.max_wait,
        }
    }
}

/// One slot of a bulkhead, held by a running call and released on drop.
pub(crate) struct Permit {
    shared: Arc<Shared>,
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        self.shared.release();
    }
}

/// One place in a bulkhead's queue, held while a call waits and released on drop.
pub(super) struct QueueSlot {
    shared: Arc<Shared>,
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        #[cfg(feature = "metrics")]
        if let Some(i) = self.shared.listeners.instruments() {
            i.queued.decrement(1.0);
        }
    }
}
