//! The bulkhead's own FIFO semaphore: one atomic word for the common path, a mutex-protected
//! queue for the rest.
//!
//! The word holds the free slots (`free << 1`) and one flag, `SLOW`, set while somebody waits or a
//! debt is owed (see below). Then:
//!
//! - taking a slot when the flag is clear and a slot is free is one compare-and-swap;
//! - returning a slot is one `fetch_add`; only if it finds the flag set does it take the mutex
//!   and hand the slot on ([`Semaphore::distribute`]);
//! - everything else (joining the queue, leaving it, collecting a handed-over slot, changing the
//!   limit) happens under the mutex, which is the only place the flag is set or cleared.
//!
//! While the flag is set nobody takes a slot from the word without the mutex, so the free count
//! in the word belongs to whoever holds the mutex. [`Semaphore::distribute`] swaps the word for
//! the bare flag (taking every free slot and setting the flag in one step), pays the debt, grants
//! the oldest waiters in order, puts back what is left and leaves the flag set to `waiters or
//! debt`. Every path that may leave a slot free while somebody waits ends in `distribute`: a
//! release that sees the flag, a waiter that joins, a waiter that leaves with a slot, a changed
//! limit. All of them act on one word, so they are totally ordered: a release either comes before
//! a `distribute`'s swap (which takes its slot) or sees the flag that swap set (and distributes its
//! slot itself, once it has the mutex). This is why no wake-up is lost; the loom models in
//! `tests/loom/bulkhead.rs` check it. (Leaving the flag clear during a `distribute` that ends up
//! setting it would let a release slip its slot into the word unseen, under the flag: a waiter
//! would then wait for a free slot forever. The lowered-limit model finds exactly that.)
//!
//! **Fairness.** With the flag set, a newcomer cannot take a slot from the word: it takes the
//! mutex and joins the back of the line. A released slot goes to the oldest waiter.
//!
//! **Debt.** Lowering the limit below the slots held records a debt (under the mutex) and sets
//! the flag; while it is owed every slot returned pays it instead of being freed or handed on,
//! and a waiter that collects a slot granted before the limit dropped pays it with that slot and
//! waits again, at the back. At every moment `held + free == max_concurrent + debt`, where `held`
//! counts the slots of running calls and the granted slots not yet collected.

use super::sync::{AtomicUsize, Mutex, MutexGuard};
use super::waiters::{Turn, Waiters};
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};
use std::task::Waker;
use tokio::time::Instant;

/// Set in the word while somebody waits or a debt is owed.
const SLOW: usize = 1;
/// One free slot in the word.
const ONE: usize = 2;

/// The largest limit: leaves room in the word for the flag and for a debt as large as the limit.
pub(super) const MAX_PERMITS: usize = usize::MAX >> 3;

/// A FIFO semaphore with a bounded queue, a resizable limit and a lock-free common path.
///
/// `repr(C)` keeps the word first, so that in the bulkhead's shared state it sits next to the
/// `Arc`'s reference counts, which a call touches too: one cache line to move between cores.
#[derive(Debug)]
#[repr(C)]
pub(super) struct Semaphore {
    /// `free << 1 | SLOW`.
    word: AtomicUsize,
    queue: Mutex<Queue>,
    /// Copies of the mutex-protected figures, for `metrics()` without the mutex.
    max_concurrent: StdAtomicUsize,
    debt: StdAtomicUsize,
    queued: StdAtomicUsize,
}

#[derive(Debug)]
struct Queue {
    waiters: Waiters,
    max_concurrent: usize,
    /// Slots to take out of circulation (the limit was lowered below the slots held).
    debt: usize,
}

/// What joining the queue came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Join {
    /// A slot was free after all (and nobody waited): it is the caller's.
    Admitted,
    /// In line since `since`, under this key; the queue's length with it.
    Queued {
        key: usize,
        queued: usize,
        since: Instant,
    },
    /// The queue is full.
    Full,
}

/// What polling a queued waiter came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// The waiter holds a slot and has left the queue, which it joined at `since`.
    Admitted { since: Option<Instant> },
    /// Still in line (its waker is registered).
    Pending,
    /// Its time ran out before it got a slot: it has left the queue.
    TimedOut,
}

/// Wakers collected under the mutex and woken after it is released (a waker may run code that
/// takes the same mutex). Fixed size: a `distribute` that fills it stops, and is run again.
struct Wakers {
    list: [Option<Waker>; 8],
    len: usize,
}

impl Wakers {
    fn new() -> Self {
        Self {
            list: Default::default(),
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == self.list.len()
    }

    fn push(&mut self, waker: Waker) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = Some(waker);
            self.len += 1;
        }
    }

    fn wake_all(&mut self) {
        for waker in self.list.iter_mut().take(self.len).filter_map(Option::take) {
            waker.wake();
        }
        self.len = 0;
    }
}

impl Semaphore {
    pub(super) fn new(permits: usize) -> Self {
        Self {
            word: AtomicUsize::new(permits << 1),
            queue: Mutex::new(Queue {
                waiters: Waiters::new(),
                max_concurrent: permits,
                debt: 0,
            }),
            max_concurrent: StdAtomicUsize::new(permits),
            debt: StdAtomicUsize::new(0),
            queued: StdAtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing under the mutex calls user code, so it is never poisoned; if it were, its
        // content would still be consistent (every change is completed before any call out).
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot if one is free and nobody waits: one compare-and-swap.
    #[inline]
    pub(super) fn try_acquire(&self) -> bool {
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            if current & SLOW != 0 || current < ONE {
                return false;
            }
            match self.word.compare_exchange_weak(
                current,
                current - ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Returns a slot: one `fetch_add`, and the mutex only when somebody waits or a debt is owed.
    #[inline]
    pub(super) fn release(&self) {
        let previous = self.word.fetch_add(ONE, Ordering::Release);
        if previous & SLOW != 0 {
            self.release_slow();
        }
    }

    #[cold]
    fn release_slow(&self) {
        let queue = self.lock();
        self.distribute_and_wake(queue);
    }

    /// Runs [`Self::distribute`] until it has handed out everything, waking the waiters it
    /// granted slots to with the mutex released.
    fn distribute_and_wake<'a>(&'a self, mut queue: MutexGuard<'a, Queue>) {
        let mut wakers = Wakers::new();
        loop {
            self.distribute(&mut queue, &mut wakers);
            let more = wakers.is_full();
            drop(queue);
            wakers.wake_all();
            if !more {
                return;
            }
            queue = self.lock();
        }
    }

    /// Takes every free slot out of the word, pays the debt, grants slots to the oldest waiters,
    /// puts back what is left and sets the flag to `waiters or debt`. Called with the mutex held;
    /// stops early when `wakers` is full (the flag stays set while waiters are left).
    fn distribute(&self, queue: &mut Queue, wakers: &mut Wakers) {
        // Takes the free slots and sets the flag in one step: a release that lands while this
        // runs sees the flag, so it takes the mutex and distributes its slot next.
        let previous = self.word.swap(SLOW, Ordering::AcqRel);
        let mut free = previous >> 1;
        let paid = free.min(queue.debt);
        queue.debt -= paid;
        free -= paid;
        while free > 0 && !wakers.is_full() {
            let Some(waker) = queue.waiters.grant_first() else {
                break;
            };
            free -= 1;
            if let Some(waker) = waker {
                wakers.push(waker);
            }
        }
        // A pass stopped early (`wakers` full) with waiters left keeps the flag through them; with
        // none left, the slots it puts back are free for anyone.
        let slow = queue.debt > 0 || queue.waiters.any_waiting();
        // The word holds `SLOW` plus the slots released since the swap: turning that `SLOW` into
        // `free << 1` and the new flag is one addition of their difference, which may be negative
        // (the atomic addition wraps, so adding `x - SLOW` modulo 2^64 subtracts when `x` is 0).
        let settled = (free << 1) + usize::from(slow);
        self.word
            .fetch_add(settled.wrapping_sub(SLOW), Ordering::Release);
        self.debt.store(queue.debt, Ordering::Relaxed);
    }

    /// Joins the back of the queue if it holds fewer than `max_queued`, unless a slot is free
    /// and nobody waits; `now` is read only when it joins. The caller registers its waker with
    /// its first [`Self::poll_wait`].
    pub(super) fn join(&self, max_queued: usize, now: impl FnOnce() -> Instant) -> Join {
        let mut queue = self.lock();
        // With the mutex held the word's flag cannot change: a slot is taken here only when nobody
        // waits and no debt is owed.
        if self.try_acquire() {
            return Join::Admitted;
        }
        if queue.waiters.len() >= max_queued {
            return Join::Full;
        }
        let since = now();
        let key = queue.waiters.push_back(since);
        // Sets the flag (a waiter is in line) and hands out any slot freed before it was set.
        let mut wakers = Wakers::new();
        self.distribute(&mut queue, &mut wakers);
        // Granted in line (a slot was freed just before the flag was set): everyone before it was
        // granted one too, and `wakers` wakes them.
        let admitted = queue.waiters.turn(key) == Turn::Granted;
        if admitted {
            queue.waiters.remove(key);
        }
        let queued = queue.waiters.len();
        self.queued.store(queued, Ordering::Relaxed);
        let more = wakers.is_full();
        drop(queue);
        wakers.wake_all();
        if more {
            // More to hand out than one batch of wakers (this waiter, at the back, may be granted
            // its slot here: its first `poll_wait` collects it).
            self.distribute_and_wake(self.lock());
        }
        if admitted {
            Join::Admitted
        } else {
            Join::Queued { key, queued, since }
        }
    }

    /// Polls a queued waiter: collects its slot if it was granted one, else registers `waker`
    /// (or, when `timed_out`, takes it out of the queue).
    pub(super) fn poll_wait(&self, key: usize, waker: &Waker, timed_out: bool) -> Wait {
        let mut queue = self.lock();
        if queue.waiters.turn(key) == Turn::Granted {
            if queue.debt == 0 {
                let since = queue.waiters.since(key);
                queue.waiters.remove(key);
                self.queued.store(queue.waiters.len(), Ordering::Relaxed);
                return Wait::Admitted { since };
            }
            // The limit was lowered after this slot was handed over: it pays the debt, and the
            // waiter waits again, at the back (so the flag stays set).
            queue.debt -= 1;
            self.debt.store(queue.debt, Ordering::Relaxed);
            queue.waiters.requeue(key);
        }
        if !timed_out {
            // Still in line, so the flag stays set: nothing to settle.
            queue.waiters.set_waker(key, waker);
            return Wait::Pending;
        }
        queue.waiters.remove(key);
        self.queued.store(queue.waiters.len(), Ordering::Relaxed);
        // It may have been the last waiter: `distribute` clears the flag then.
        self.distribute_and_wake(queue);
        Wait::TimedOut
    }

    /// Takes a waiter out of the queue (its future was dropped). A slot it had been granted is
    /// handed on.
    pub(super) fn abandon(&self, key: usize) {
        let mut queue = self.lock();
        if queue.waiters.remove(key) == Turn::Granted {
            self.word.fetch_add(ONE, Ordering::Release);
        }
        self.queued.store(queue.waiters.len(), Ordering::Relaxed);
        self.distribute_and_wake(queue);
    }

    /// Changes the limit: raising it frees slots (after paying any debt), lowering it records
    /// a debt that free slots pay at once and returned slots pay later.
    pub(super) fn set_max_concurrent(&self, n: usize) {
        let mut queue = self.lock();
        let old = queue.max_concurrent;
        queue.max_concurrent = n;
        self.max_concurrent.store(n, Ordering::Relaxed);
        if n >= old {
            let paid = (n - old).min(queue.debt);
            queue.debt -= paid;
            self.word
                .fetch_add((n - old - paid) << 1, Ordering::Release);
        } else {
            queue.debt += old - n;
        }
        self.distribute_and_wake(queue);
    }

    /// Slots held now: running calls and granted slots not yet collected. Read without the mutex,
    /// so only exact when nothing moves.
    pub(super) fn held(&self) -> usize {
        let free = self.word.load(Ordering::Relaxed) >> 1;
        (self.max_concurrent.load(Ordering::Relaxed) + self.debt.load(Ordering::Relaxed))
            .saturating_sub(free)
    }

    /// Waiters now (waiting, or granted a slot they have not collected yet).
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub(super) fn max_concurrent(&self) -> usize {
        self.max_concurrent.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(bulwark_loom)))]
#[path = "semaphore_tests.rs"]
mod tests;
