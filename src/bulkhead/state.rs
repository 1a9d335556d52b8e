//! The shared state of a bulkhead: its semaphore of slots and queue, the limits, the counters, and
//! the lanes (one handle on it per stripe) through which calls reach it.
//!
//! Slots and waiters are the business of the bulkhead's own [`Semaphore`]: a FIFO semaphore whose
//! common path (a free slot and nobody waiting; a release with nobody waiting) is one atomic
//! operation, whose queue is bounded by `max_queued`, and whose limit can shrink while calls run
//! (the slots that cannot be taken back at once become a debt, paid by the next releases). At every
//! moment `slots held + slots free == max_concurrent + debt`.

use super::Event;
use super::adaptive::{AdaptiveLimit, Change, Controller};
use super::semaphore::{Join, MAX_PERMITS, Semaphore, Wait};
use crate::ConfigError;
use crate::event::Listeners;
use crate::stripe::Padded;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Waker;
use std::time::Duration;

/// A handle on the shared state, one per stripe: a call's permit or future holds (and counts
/// itself in) the lane of the thread it started on, so that calls on different cores do not
/// write one reference count. The inner `Arc` is cloned only when the lanes are made.
pub(crate) type Lane = crate::stripe::Lane<Arc<Shared>>;

/// The lanes of one bulkhead, as many as its semaphore has stripes (so a stripe's index is a
/// lane's).
pub(super) struct Lanes {
    lanes: Box<[Lane]>,
}

impl Lanes {
    pub(super) fn new(shared: Shared) -> Self {
        let shared = Arc::new(shared);
        Self {
            lanes: (0..shared.semaphore.stripe_count())
                .map(|_| Arc::new(Padded(Arc::clone(&shared))))
                .collect(),
        }
    }

    /// The lane of the current thread.
    #[inline]
    pub(super) fn home(&self) -> &Lane {
        &self.lanes[self.semaphore.home()]
    }

    /// [`Shared::try_admit`] on the current thread's lane and stripe.
    #[inline(always)]
    pub(super) fn try_admit(&self) -> Option<Permit> {
        let home = self.semaphore.home();
        Shared::try_admit(&self.lanes[home], home)
    }
}

impl std::ops::Deref for Lanes {
    type Target = Shared;
    #[inline]
    fn deref(&self) -> &Shared {
        &self.lanes[0].0
    }
}

/// The state every clone of a bulkhead shares.
pub(super) struct Shared {
    semaphore: Semaphore,
    /// Nanoseconds; 0 is none (a zero `max_wait` is refused).
    max_wait: AtomicU64,
    pub(super) listeners: Listeners<Event>,
    max_queued: AtomicUsize,
    rejected_queue_full: AtomicU64,
    rejected_timed_out: AtomicU64,
    /// The adaptive limit's controller; `None` for a fixed limit, which reads no clock.
    adaptive: Option<Controller>,
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
    if n > MAX_PERMITS {
        return Err(ConfigError::new(
            "bulkhead",
            "max_concurrent",
            "must be at most usize::MAX >> 3",
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
        adaptive: Option<AdaptiveLimit>,
        stripes: usize,
    ) -> Self {
        #[cfg(feature = "metrics")]
        if let Some(i) = listeners.instruments() {
            i.max_concurrent.set(max_concurrent as f64);
            i.max_queued.set(max_queued as f64);
        }
        Self {
            semaphore: Semaphore::new(max_concurrent, stripes),
            max_wait: AtomicU64::new(wait_nanos(max_wait)),
            listeners,
            max_queued: AtomicUsize::new(max_queued),
            rejected_queue_full: AtomicU64::new(0),
            rejected_timed_out: AtomicU64::new(0),
            adaptive: adaptive.map(Controller::new),
        }
    }

    /// The current thread's stripe of the semaphore (and lane).
    #[inline]
    pub(super) fn home(&self) -> usize {
        self.semaphore.home()
    }

    /// The fast path of every door: takes a free slot from the stripe `home` (or another), if
    /// one is free and nobody waits (one compare-and-swap), and reports the admission.
    #[inline(always)]
    pub(super) fn try_admit(lane: &Lane, home: usize) -> Option<Permit> {
        if !lane.semaphore.try_acquire(home) {
            return None;
        }
        lane.emit_admitted(Duration::ZERO);
        Some(Shared::permit(lane))
    }

    /// Joins the queue if there is room (or takes a slot freed in the meantime, if nobody waits).
    /// The wait counts from `since` (read only if the call waits).
    pub(super) fn join(&self, since: impl FnOnce() -> tokio::time::Instant) -> Join {
        let max_queued = self.max_queued.load(Ordering::Relaxed);
        let join = self.semaphore.join(max_queued, since);
        self.queue_changed();
        join
    }

    /// Polls a queued waiter; see [`Semaphore::poll_wait`].
    pub(super) fn poll_wait(&self, key: usize, waker: &Waker, timed_out: bool) -> Wait {
        let wait = self.semaphore.poll_wait(key, waker, timed_out);
        if !matches!(wait, Wait::Pending) {
            self.queue_changed();
        }
        wait
    }

    /// Takes a waiter out of the queue, handing on a slot it had been granted.
    pub(super) fn abandon(&self, key: usize) {
        self.semaphore.abandon(key);
        self.queue_changed();
    }

    /// Sets the `queued` gauge (feature `metrics`) after the queue changed: off the common path,
    /// which never queues.
    #[inline]
    fn queue_changed(&self) {
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.queued.set(self.semaphore.queued() as f64);
        }
    }

    /// A slot just taken, as a permit holding `lane`.
    #[inline(always)]
    pub(super) fn permit(lane: &Lane) -> Permit {
        Permit {
            started: lane.taken().started,
            lane: Arc::clone(lane),
        }
    }

    /// A slot just taken: counted in flight, and its start read for an adaptive limit.
    #[inline(always)]
    fn taken(&self) -> Slot {
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.in_flight.increment(1.0);
        }
        // Only the adaptive mode reads the clock per call (out of line, so that the fixed
        // mode's path stays as small as it was).
        let started = match &self.adaptive {
            Some(controller) => start_clock(controller),
            None => 0,
        };
        Slot { started }
    }

    /// The fast path for a holder of the bulkhead itself (the pipeline's call): a slot taken
    /// at once from the current thread's stripe (or another) if one is free and nobody waits,
    /// with no reference of its own. Given back with [`Shared::give_back`].
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[inline(always)]
    pub(super) fn try_take(&self) -> Option<Slot> {
        if !self.semaphore.try_acquire(self.semaphore.home()) {
            return None;
        }
        self.emit_admitted(Duration::ZERO);
        Some(self.taken())
    }

    /// Frees a [`Slot`] on the current thread's stripe, reporting the call to an adaptive limit
    /// as `failed` or not (`None`: cancelled, not reported), as a [`Permit`]'s drop does.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[inline(always)]
    pub(super) fn give_back(&self, slot: Slot, failed: Option<bool>) {
        if let Some(failed) = failed {
            self.report(slot.started, failed);
        }
        self.freed();
    }

    /// Reports a completed call to an adaptive limit, if it has one: `started` is a permit's or a
    /// slot's (0 for a fixed limit, which hears nothing).
    #[inline(always)]
    fn report(&self, started: u64, failed: bool) {
        if started != 0 {
            self.complete(started >> 1, failed);
        }
    }

    /// A slot is no longer held: out of the in-flight gauge, back to the current thread's
    /// stripe (not the one it was taken from).
    #[inline(always)]
    fn freed(&self) {
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.in_flight.decrement(1.0);
        }
        self.semaphore.release(self.semaphore.home());
    }

    /// The bulkhead's name, for a rejection.
    pub(super) fn name(&self) -> crate::Name {
        *self.listeners.name()
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

    pub(super) fn set_max_concurrent(&self, n: usize) -> Result<(), ConfigError> {
        let n = check_max_concurrent(n)?;
        match &self.adaptive {
            Some(controller) => controller.set(n, |n| self.resize(n)),
            None => self.resize(n),
        }
        Ok(())
    }

    /// Applies a checked limit to the semaphore and the gauge.
    fn resize(&self, n: usize) {
        self.semaphore.set_max_concurrent(n);
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.max_concurrent.set(n as f64);
        }
    }

    /// Reports a completed call that took its slot at `started` to the adaptive limit (called
    /// with the slot still held), and announces a change of limit.
    #[cold]
    fn complete(&self, started: u64, failed: bool) {
        let Some(controller) = &self.adaptive else {
            return;
        };
        let in_flight = self.semaphore.held();
        let change: Option<Change> =
            controller.complete(started, failed, in_flight, |n| self.resize(n));
        if let Some((from, to)) = change {
            self.listeners
                .emit(|name| Event::LimitChanged { name, from, to });
        }
    }

    /// A bulkhead with these settings, listeners and (for an adaptive one) algorithm, at its
    /// initial limit, with nothing in flight (a keyed bulkhead's instance for a new key). One
    /// stripe: a keyed bulkhead may hold many keys, each with little traffic.
    #[cfg(feature = "keyed")]
    pub(super) fn fresh(&self) -> Self {
        let adaptive = self.adaptive.as_ref().map(|c| *c.algorithm());
        let limit = match &adaptive {
            Some(a) => a.bounds().initial,
            None => self.semaphore.max_concurrent(),
        };
        Self::new(
            limit,
            self.max_queued.load(Ordering::Relaxed),
            self.max_wait(),
            self.listeners.clone(),
            adaptive,
            1,
        )
    }

    /// Whether an adaptive limit sets `max_concurrent`.
    pub(super) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// How long a queued call may wait; `None`: as long as it takes.
    pub(super) fn max_wait(&self) -> Option<Duration> {
        match self.max_wait.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Applies to calls that join the queue from now on.
    pub(super) fn set_max_wait(&self, max_wait: Option<Duration>) {
        self.max_wait.store(wait_nanos(max_wait), Ordering::Relaxed);
    }

    pub(super) fn set_max_queued(&self, n: usize) {
        self.max_queued.store(n, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if let Some(i) = self.listeners.instruments() {
            i.max_queued.set(n as f64);
        }
    }

    pub(super) fn metrics(&self) -> super::Metrics {
        super::Metrics {
            in_flight: self.semaphore.held(),
            queued: self.semaphore.queued(),
            rejected_queue_full: self.rejected_queue_full.load(Ordering::Relaxed),
            rejected_timed_out: self.rejected_timed_out.load(Ordering::Relaxed),
            max_concurrent: self.semaphore.max_concurrent(),
            max_queued: self.max_queued.load(Ordering::Relaxed),
            max_wait: self.max_wait(),
            adaptive: self.adaptive.as_ref().map(|c| {
                let bounds = c.algorithm().bounds();
                (bounds.min, bounds.max)
            }),
        }
    }
}

fn wait_nanos(max_wait: Option<Duration>) -> u64 {
    max_wait.map_or(0, |w| {
        u64::try_from(w.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

/// One slot of a bulkhead, held by a running call and released on drop.
///
/// In adaptive mode it knows when the call took its slot. The bulkhead's own future reports the
/// call's outcome with [`Permit::finish`] and a cancelled call not at all ([`Permit::explicit`]);
/// a permit held by anything else (the pipeline) reports a completed call, not failed, when it
/// is dropped.
pub(crate) struct Permit {
    lane: Lane,
    /// 0 when nothing is to be reported (a fixed limit); else when the call took its slot
    /// (nanoseconds since the controller's epoch, plus one) shifted left by one, with
    /// [`REPORT_ON_DROP`] in the low bit.
    started: u64,
}

/// In `Permit::started`: a drop reports a completed call.
const REPORT_ON_DROP: u64 = 1;

/// The clock read of an adaptive permit: `now << 1` with [`REPORT_ON_DROP`] in the low bit.
#[inline(never)]
fn start_clock(controller: &Controller) -> u64 {
    (controller.now() << 1) + REPORT_ON_DROP
}

impl Permit {
    /// Only [`Permit::finish`] reports this call: dropped without it, the call was cancelled.
    #[inline]
    pub(crate) fn explicit(&mut self) {
        self.started &= !REPORT_ON_DROP;
    }

    /// The call completed (`failed` or not): reports it and frees the slot.
    #[inline(always)]
    pub(crate) fn finish(mut self, failed: bool) {
        let started = std::mem::take(&mut self.started);
        self.lane.report(started, failed);
    }

    /// Starts the call's clock again (a slot reserved by `poll_ready` before its call was made).
    #[inline]
    pub(super) fn restart(&mut self) {
        if self.started != 0
            && let Some(controller) = &self.lane.adaptive
        {
            self.started = start_clock(controller) & (self.started | !REPORT_ON_DROP);
        }
    }
}

impl Drop for Permit {
    #[inline(always)]
    fn drop(&mut self) {
        if self.started & REPORT_ON_DROP != 0 {
            self.lane.complete(self.started >> 1, false);
        }
        self.lane.freed();
    }
}

/// A slot held by a call that holds the bulkhead itself (the pipeline's): a [`Permit`] without
/// its reference, so taking and freeing it writes nothing but the semaphore. Not released on
/// drop: its holder gives it back ([`Bulkhead::give_back`](super::Bulkhead)).
#[derive(Debug)]
#[must_use = "a slot is held until given back"]
pub(crate) struct Slot {
    /// As [`Permit::started`].
    started: u64,
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::super::{Aimd, Bulkhead};
    use super::Shared;
    use std::sync::Arc;
    use std::time::Duration;

    /// Runs `f(home)` on a new thread of each stripe `home` (of `stripes`) but stripe 0, where
    /// the slots start: threads are numbered in turn, so a few dozen threads cover them all.
    /// Returns how many times `f` ran (once per stripe but 0).
    fn on_each_stripe_but_zero(stripes: usize, f: impl Fn(usize) + Sync) -> usize {
        let mut left: Vec<usize> = (1..stripes).collect();
        let mut ran = 0;
        for _ in 0..256 {
            if left.is_empty() {
                return ran;
            }
            let (home, visited) = std::thread::scope(|s| {
                s.spawn(|| {
                    let home = crate::stripe::ordinal() & (stripes - 1);
                    let visit = left.contains(&home);
                    if visit {
                        f(home);
                    }
                    (home, visit)
                })
                .join()
                .unwrap()
            });
            ran += usize::from(visited);
            left.retain(|&h| h != home);
        }
        panic!("stripes {left:?} not reached in 256 threads");
    }

    /// How many references each lane counts (its own, plus one per permit or future in it).
    fn lane_counts(b: &Bulkhead) -> Vec<usize> {
        b.lanes.lanes.iter().map(Arc::strong_count).collect()
    }

    /// A call counts its reference in its own thread's lane, and takes and returns its slot on
    /// its own thread's stripe (taking from another stripe only when its own has none).
    #[test]
    fn a_call_uses_its_threads_lane_and_stripe() {
        let stripes = crate::stripe::stripe_count();
        let visited = on_each_stripe_but_zero(stripes, |home| {
            let b = Bulkhead::builder().max_concurrent(2).build().unwrap();
            assert_eq!(b.lanes.lanes.len(), stripes);
            assert_eq!(b.lanes.semaphore.stripe_count(), stripes);
            assert_eq!(b.lanes.semaphore.home(), home);
            assert_eq!(Shared::home(&b.lanes), home);
            let mut expected = vec![1; stripes];
            let first = b.lanes.try_admit().unwrap();
            expected[home] = 2;
            assert_eq!(lane_counts(&b), expected, "in this thread's lane");
            assert_eq!(b.lanes.semaphore.free_on(0), 1, "taken from stripe 0");
            drop(first);
            assert_eq!(b.lanes.semaphore.free_on(home), 1, "returned to its own");
            let acquire = b.acquire();
            assert_eq!(
                lane_counts(&b),
                expected,
                "the future, in this thread's lane"
            );
            let second = futures::executor::block_on(acquire).unwrap();
            assert_eq!(b.lanes.semaphore.free_on(home), 0, "its own stripe first");
            assert_eq!(b.lanes.semaphore.free_on(0), 1);
            drop(second);
            assert_eq!(b.metrics().in_flight, 0);
        });
        assert_eq!(visited, stripes - 1, "every stripe but 0, once");
    }

    /// A slot for a holder of the bulkhead (the pipeline's call) is taken at once only when one
    /// is free and nobody waits, counts no reference, and given back goes to the oldest waiter.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[tokio::test(start_paused = true)]
    async fn a_slot_is_taken_only_when_one_is_free_and_nobody_waits() {
        let b = Bulkhead::builder()
            .max_concurrent(2)
            .max_queued(1)
            .build()
            .unwrap();
        let counts = lane_counts(&b);
        let one = b.try_take().unwrap();
        assert_eq!(lane_counts(&b), counts, "no reference of its own");
        assert_eq!(b.metrics().in_flight, 1);
        let two = b.try_take().unwrap();
        assert!(b.try_take().is_none(), "none free");
        assert_eq!(b.metrics().in_flight, 2);
        let mut waiter = Box::pin(b.acquire());
        assert!(futures::poll!(&mut waiter).is_pending());
        assert_eq!(b.metrics().queued, 1);
        b.give_back(one, Some(false));
        assert!(
            b.try_take().is_none(),
            "the slot given back is the waiter's"
        );
        let permit = waiter.await.unwrap();
        assert_eq!(b.metrics().in_flight, 2);
        b.give_back(two, None);
        drop(permit);
        let m = b.metrics();
        assert_eq!((m.in_flight, m.queued), (0, 0));
        let again = b.try_take().expect("free again");
        b.give_back(again, None);
        assert_eq!(b.metrics().in_flight, 0);
    }

    /// A slot given back tells an adaptive limit whether its call failed; a cancelled call
    /// (`None`) tells it nothing.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[tokio::test(start_paused = true)]
    async fn a_slot_given_back_reports_its_call_to_an_adaptive_limit() {
        let limit = Aimd::builder()
            .initial_limit(10)
            .backoff(0.5)
            .build()
            .unwrap();
        let b = Bulkhead::builder().adaptive(limit).build().unwrap();
        let ok = b.try_take().unwrap();
        b.give_back(ok, Some(false));
        assert_eq!(b.metrics().max_concurrent, 10, "one success: no round yet");
        let failed = b.try_take().unwrap();
        b.give_back(failed, Some(true));
        assert_eq!(b.metrics().max_concurrent, 5, "a failure backs off");
        let cancelled = b.try_take().unwrap();
        b.give_back(cancelled, None);
        assert_eq!(
            b.metrics().max_concurrent,
            5,
            "a cancelled call is not a failure"
        );
        assert_eq!(b.metrics().in_flight, 0);
    }

    /// A permit held by something other than the bulkhead's own future (the pipeline's) reports
    /// a completed call when dropped, timed from when it was taken.
    #[tokio::test(start_paused = true)]
    async fn a_dropped_permit_reports_the_time_since_it_was_taken() {
        let limit = Aimd::builder()
            .initial_limit(10)
            .backoff(0.5)
            .latency_threshold(Duration::from_millis(10))
            .build()
            .unwrap();
        let b = Bulkhead::builder().adaptive(limit).build().unwrap();
        let quick = b.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(quick);
        assert_eq!(
            b.metrics().max_concurrent,
            10,
            "at the threshold is not a drop"
        );
        let slow = b.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(11)).await;
        drop(slow);
        assert_eq!(b.metrics().max_concurrent, 5, "over it is");
        assert_eq!(b.metrics().in_flight, 0);
    }
}
