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

use super::{ConfigError, Event};
use crate::event::Listeners;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

pub(super) struct Shared {
    pub(super) semaphore: Arc<Semaphore>,
    pub(super) max_wait: Option<Duration>,
    pub(super) listeners: Listeners<Event>,
    max_concurrent: AtomicUsize,
    max_queued: AtomicUsize,
    queued: AtomicUsize,
    /// Permits still to be taken out of circulation after `max_concurrent` was lowered.
    /// Written only under `resize`; read without it.
    debt: AtomicUsize,
    resize: Mutex<()>,
    rejected_queue_full: AtomicU64,
    rejected_timed_out: AtomicU64,
}

/// Checks a `max_concurrent` value.
pub(super) fn check_max_concurrent(n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(ConfigError::new("max_concurrent", "must be at least 1"));
    }
    if n > Semaphore::MAX_PERMITS {
        return Err(ConfigError::new(
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
        Self {
            semaphore: Arc::new(Semaphore::new(max_concurrent)),
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
    pub(super) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let permit = self.semaphore.try_acquire().ok()?;
        permit.forget();
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
        Some(QueueSlot {
            shared: Arc::clone(self),
        })
    }

    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
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
    fn release(&self) {
        if self.debt.load(Ordering::Acquire) > 0 {
            let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
            let debt = self.debt.load(Ordering::Relaxed);
            if debt > 0 {
                self.debt.store(debt - 1, Ordering::Relaxed);
                return;
            }
        }
        self.semaphore.add_permits(1);
        // Pairs with the fence in `set_max_concurrent`: either that call's `forget_permits` sees
        // the permit just returned, or this load sees its debt and pays it from the free permits.
        fence(Ordering::SeqCst);
        if self.debt.load(Ordering::Relaxed) > 0 {
            let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
            self.pay_debt_locked();
        }
    }

    /// Takes free permits out of circulation to pay the debt. Call with `resize` held.
    fn pay_debt_locked(&self) {
        let debt = self.debt.load(Ordering::Relaxed);
        let paid = self.semaphore.forget_permits(debt);
        self.debt.store(debt - paid, Ordering::Relaxed);
    }

    pub(super) fn set_max_concurrent(&self, n: usize) -> Result<(), ConfigError> {
        let n = check_max_concurrent(n)?;
        let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.max_concurrent.swap(n, Ordering::Relaxed);
        let debt = self.debt.load(Ordering::Relaxed);
        if n >= old {
            let paid = debt.min(n - old);
            self.debt.store(debt - paid, Ordering::Relaxed);
            self.semaphore.add_permits(n - old - paid);
        } else {
            self.debt.store(debt + (old - n), Ordering::SeqCst);
            fence(Ordering::SeqCst);
            self.pay_debt_locked();
        }
        Ok(())
    }

    pub(super) fn set_max_queued(&self, n: usize) {
        self.max_queued.store(n, Ordering::Relaxed);
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
    fn drop(&mut self) {
        self.shared.release();
    }
}

impl Permit {
    /// Wraps a permit taken from the semaphore's queue.
    pub(super) fn adopt(shared: &Arc<Shared>, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        permit.forget();
        Self {
            shared: Arc::clone(shared),
        }
    }
}

/// One place in a bulkhead's queue, held while a call waits and released on drop.
pub(super) struct QueueSlot {
    shared: Arc<Shared>,
}

impl Drop for QueueSlot {
    /// Runs after the semaphore's wait future is dropped (`Waiting` declares it first). If that
    /// wait had just been handed a permit, tokio returned it without looking at the debt: pay the
    /// debt from the free permits, as `release` does.
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        fence(Ordering::SeqCst);
        if shared.debt.load(Ordering::Relaxed) > 0 {
            let _guard = shared.resize.lock().unwrap_or_else(PoisonError::into_inner);
            shared.pay_debt_locked();
        }
    }
}
