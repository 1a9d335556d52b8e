//! The bulkhead's own FIFO semaphore: striped atomic words for the common path, a mutex-protected
//! queue for the rest.
//!
//! The free slots are spread over a power of two of words (stripes), each on its own cache
//! lines; a thread uses the stripe of its ordinal (see `crate::stripe`). Each word holds the free
//! slots on its stripe (`free << 1`) and one flag, `SLOW`, set on every stripe while somebody
//! waits or a debt is owed (see below). Then:
//!
//! - taking a slot when the flag is clear is one compare-and-swap on the thread's own stripe if
//!   it has a free slot, else on the first other stripe that has one;
//! - returning a slot is one `fetch_add` on the thread's own stripe; only if it finds the flag
//!   set does it take the mutex and hand the slot on ([`Semaphore::distribute`]);
//! - everything else (joining the queue, leaving it, collecting a handed-over slot, changing the
//!   limit) happens under the mutex, which is the only place the flag is set or cleared.
//!
//! So threads on different cores, each taking and returning slots on its own stripe, do not
//! write a shared cache line; a slot moves to another stripe only when returned there.
//!
//! While the flag is set nobody takes a slot from a word without the mutex, so the free slots
//! in the words belong to whoever holds the mutex. [`Semaphore::distribute`] swaps each word for
//! the bare flag (taking its free slots and setting the flag in one step), pays the debt, grants
//! the oldest waiters in order, puts back what is left and leaves the flag set to `waiters or
//! debt`. Every path that may leave a slot free while somebody waits ends in `distribute`: a
//! release that sees the flag, a waiter that joins, a waiter that leaves with a slot, a changed
//! limit. On each word these act in one order: a release either comes before a `distribute`'s
//! swap of its word (which takes its slot) or sees the flag that swap set (and distributes its
//! slot itself, once it has the mutex). This is why no wake-up is lost; the loom models in
//! `tests/loom/bulkhead.rs` check it, with the model's threads on distinct stripes. (Leaving the
//! flag clear during a `distribute` that ends up setting it would let a release slip its slot
//! into a word unseen, under the flag: a waiter would then wait for a free slot forever. The
//! lowered-limit model finds exactly that.)
//!
//! **Exactness.** Trying the stripes one after another is not one atomic look at all of them: a
//! slot returned to a stripe already tried while another is taken from one not tried yet is
//! missed. So a failed lock-free try is never the last word: [`Semaphore::join`] decides under
//! the mutex with a `distribute` that collects every stripe, and only then queues or refuses.
//!
//! **Fairness.** With the flag set, a newcomer cannot take a slot from a word: it takes the
//! mutex and joins the back of the line. A released slot goes to the oldest waiter.
//!
//! **Debt.** Lowering the limit below the slots held records a debt (under the mutex) and sets
//! the flag; while it is owed every slot returned pays it instead of being freed or handed on,
//! and a waiter that collects a slot granted before the limit dropped pays it with that slot and
//! waits again, at the back. At every moment `held + free == max_concurrent + debt`, where `held`
//! counts the slots of running calls and the granted slots not yet collected, and `free` the
//! free slots of all stripes.

use super::sync::{AtomicUsize, Mutex, MutexGuard};
use super::waiters::{Turn, Waiters};
use crate::stripe::Padded;
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
#[derive(Debug)]
pub(super) struct Semaphore {
    /// One word per stripe, each `free << 1 | SLOW`, on its own cache lines; a power of two of
    /// them. The flag is set and cleared on all of them together, under the mutex.
    stripes: Box<[Padded<AtomicUsize>]>,
    queue: Mutex<Queue>,
    /// Copies of the mutex-protected figures, for `metrics()` without the mutex.
    max_concurrent: StdAtomicUsize,
    debt: StdAtomicUsize,
    queued: StdAtomicUsize,
}

/// What trying one stripe came to.
enum Take {
    Taken,
    /// No free slot on this stripe (and no flag).
    Empty,
    /// The flag is set: nobody takes a slot without the mutex.
    Slow,
}

/// Takes a free slot from one stripe's word, unless its flag is set.
#[inline]
fn take(word: &AtomicUsize) -> Take {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        if current & SLOW != 0 {
            return Take::Slow;
        }
        if current < ONE {
            return Take::Empty;
        }
        match word.compare_exchange_weak(
            current,
            current - ONE,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Take::Taken,
            Err(actual) => current = actual,
        }
    }
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
    /// A semaphore of `permits` slots over `stripes` words (rounded up to a power of two); the
    /// slots start on stripe 0 and spread as threads take and return them.
    pub(super) fn new(permits: usize, stripes: usize) -> Self {
        let stripes = stripes.max(1).next_power_of_two();
        Self {
            stripes: (0..stripes)
                .map(|i| Padded(AtomicUsize::new(if i == 0 { permits << 1 } else { 0 })))
                .collect(),
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

    /// The word of stripe `i` (taken modulo the number of stripes).
    #[inline]
    fn word(&self, i: usize) -> &AtomicUsize {
        &self.stripes[i & (self.stripes.len() - 1)]
    }

    /// How many stripes there are (a power of two).
    pub(super) fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// The current thread's stripe.
    #[inline]
    pub(super) fn home(&self) -> usize {
        crate::stripe::ordinal() & (self.stripes.len() - 1)
    }

    /// The free slots on stripe `i` (for tests).
    #[cfg(test)]
    pub(super) fn free_on(&self, i: usize) -> usize {
        self.word(i).load(Ordering::SeqCst) >> 1
    }

    /// Takes a slot if one is free and nobody waits: one compare-and-swap on the stripe `home`
    /// when it has a free slot, else one on the first other stripe that has one.
    ///
    /// A `false` is not exact: a slot moving between stripes while they are tried (returned to
    /// one already tried, taken from one not tried yet) is missed. [`Self::join`], under the
    /// mutex, decides exactly.
    #[inline]
    pub(super) fn try_acquire(&self, home: usize) -> bool {
        match take(self.word(home)) {
            Take::Taken => true,
            Take::Slow => false,
            Take::Empty => self.steal(home),
        }
    }

    /// [`Self::try_acquire`] on the stripes after `home`, in turn.
    #[inline(never)]
    fn steal(&self, home: usize) -> bool {
        for i in 1..self.stripes.len() {
            match take(self.word(home + i)) {
                Take::Taken => return true,
                Take::Slow => return false,
                Take::Empty => {}
            }
        }
        false
    }

    /// Returns a slot to the stripe `home`: one `fetch_add`, and the mutex only when somebody
    /// waits or a debt is owed.
    #[inline]
    pub(super) fn release(&self, home: usize) {
        let previous = self.word(home).fetch_add(ONE, Ordering::Release);
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
            self.distribute(&mut queue, &mut wakers, false);
            let more = wakers.is_full();
            drop(queue);
            wakers.wake_all();
            if !more {
                return;
            }
            queue = self.lock();
        }
    }

    /// Takes every free slot out of the stripes, pays the debt, grants slots to the oldest
    /// waiters, takes one for the caller if `take` and nobody is left waiting, puts back what is
    /// left (on the current thread's stripe) and sets the flag to `waiters or debt`. Called with
    /// the mutex held; stops early when `wakers` is full (the flag stays set while waiters are
    /// left). Returns whether it took a slot for the caller.
    fn distribute(&self, queue: &mut Queue, wakers: &mut Wakers, take: bool) -> bool {
        // Takes the free slots and sets the flag in one step per stripe: a release that lands on
        // a stripe once it is swapped sees the flag, so it takes the mutex and distributes its
        // slot next; one that lands before is collected here.
        let mut free = 0;
        for word in self.stripes.iter() {
            free += word.swap(SLOW, Ordering::AcqRel) >> 1;
        }
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
        // With free slots left, the debt is paid; a pass stopped early (`wakers` full) with
        // waiters left keeps the flag through them, and takes nothing past them.
        let waiting = queue.waiters.any_waiting();
        let took = take && free > 0 && !waiting;
        free -= usize::from(took);
        let slow = queue.debt > 0 || waiting;
        // Each word holds `SLOW` plus the slots released onto it since the swap: turning that
        // `SLOW` into its share of `free << 1` and the new flag is one addition of their
        // difference, which may be negative (the atomic addition wraps, so adding `x - SLOW`
        // modulo 2^64 subtracts when `x` is 0).
        let home = self.home();
        for (i, word) in self.stripes.iter().enumerate() {
            let share = if i == home { free } else { 0 };
            let settled = (share << 1) + usize::from(slow);
            word.fetch_add(settled.wrapping_sub(SLOW), Ordering::Release);
        }
        self.debt.store(queue.debt, Ordering::Relaxed);
        took
    }

    /// Joins the back of the queue if it holds fewer than `max_queued`, unless a slot is free
    /// and nobody waits; `now` is read only when it joins. The caller registers its waker with
    /// its first [`Self::poll_wait`].
    ///
    /// Exact where [`Self::try_acquire`] is not: every stripe is swapped for the flag before
    /// anything is decided, so a slot free anywhere is found.
    pub(super) fn join(&self, max_queued: usize, now: impl FnOnce() -> Instant) -> Join {
        let mut queue = self.lock();
        let mut wakers = Wakers::new();
        let join = if self.distribute(&mut queue, &mut wakers, true) {
            Join::Admitted
        } else if queue.waiters.len() >= max_queued {
            Join::Full
        } else {
            let since = now();
            let key = queue.waiters.push_back(since);
            // Sets the flag (a waiter is in line) and hands out any slot freed meanwhile.
            self.distribute(&mut queue, &mut wakers, false);
            // Granted in line (a slot was freed just before the flag was set): everyone before
            // it was granted one too, and `wakers` wakes them.
            if queue.waiters.turn(key) == Turn::Granted {
                queue.waiters.remove(key);
                Join::Admitted
            } else {
                Join::Queued {
                    key,
                    queued: queue.waiters.len(),
                    since,
                }
            }
        };
        self.queued.store(queue.waiters.len(), Ordering::Relaxed);
        let more = wakers.is_full();
        drop(queue);
        wakers.wake_all();
        if more {
            // More to hand out than one batch of wakers (a waiter just queued, at the back, may
            // be granted its slot here: its first `poll_wait` collects it).
            self.distribute_and_wake(self.lock());
        }
        join
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
            self.word(0).fetch_add(ONE, Ordering::Release);
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
            self.word(0)
                .fetch_add((n - old - paid) << 1, Ordering::Release);
        } else {
            queue.debt += old - n;
        }
        self.distribute_and_wake(queue);
    }

    /// Slots held now: running calls and granted slots not yet collected. Read without the mutex,
    /// so only exact when nothing moves.
    pub(super) fn held(&self) -> usize {
        let free = self
            .stripes
            .iter()
            .map(|word| word.load(Ordering::Relaxed) >> 1)
            .fold(0, usize::wrapping_add);
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
