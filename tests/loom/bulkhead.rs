//! loom models of the bulkhead's semaphore: admission and release, the hand-off of a released slot
//! to a waiter, no lost wake-up, no slot lost or doubled when a waiter is dropped around a
//! hand-off or the limit is lowered while slots are released.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --test loom` (as `.ci/run`
//! does): the semaphore's state word and its queue's mutex are then loom's. Calls that wait are
//! driven by `loom::future::block_on`, which parks the thread until its waker is woken: a lost
//! wake-up leaves every thread parked, which loom reports as a deadlock.
#![cfg(all(bulwark_loom, feature = "bulkhead"))]

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use loom::sync::atomic::{AtomicUsize, Ordering};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type Held = Pin<Box<dyn Future<Output = Result<(), Error<()>>> + Send>>;

fn bulkhead(max_concurrent: usize, max_queued: usize) -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(max_concurrent)
        .max_queued(max_queued)
        .build()
        .unwrap()
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// A call that, once admitted, runs until it is dropped.
fn held(b: &Bulkhead) -> Held {
    Box::pin(b.run(std::future::pending::<Result<(), ()>>))
}

/// A call polled once (admitted, or queued) that never completes.
fn start(b: &Bulkhead) -> Held {
    let mut call = held(b);
    assert!(poll_once(call.as_mut()).is_pending());
    call
}

/// Runs one call to its end on this thread, counting the calls inside at once in `inside` and
/// checking that they never exceed `limit`.
fn run_counted(b: &Bulkhead, inside: &AtomicUsize, limit: usize) -> Result<(), Error<()>> {
    loom::future::block_on(b.run(|| async {
        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= limit, "{now} calls inside a bulkhead of {limit}");
        inside.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }))
}

/// Nothing in flight or queued, and exactly `limit` calls can hold a slot: none was lost, none
/// minted.
fn assert_exactly(b: &Bulkhead, limit: usize) {
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0), "{m:?}");
    b.set_max_queued(0);
    let calls: Vec<Held> = (0..limit).map(|_| start(b)).collect();
    assert_eq!(b.metrics().in_flight, limit);
    let mut over = held(b);
    assert!(matches!(
        poll_once(over.as_mut()),
        Poll::Ready(Err(Error::BulkheadFull(_)))
    ));
    drop(calls);
    assert_eq!(b.metrics().in_flight, 0);
}

#[test]
fn two_calls_on_one_slot_both_run_one_at_a_time() {
    loom::model(|| {
        let b = bulkhead(1, 1);
        let inside = Arc::new(AtomicUsize::new(0));
        let other = {
            let (b, inside) = (b.clone(), inside.clone());
            loom::thread::spawn(move || run_counted(&b, &inside, 1))
        };
        assert!(run_counted(&b, &inside, 1).is_ok());
        assert!(other.join().unwrap().is_ok());
        assert_exactly(&b, 1);
    });
}

#[test]
fn a_released_slot_is_handed_to_the_waiter_without_a_lost_wake_up() {
    loom::model(|| {
        // The main thread holds the only slot; the waiter parks until the release wakes it.
        let b = bulkhead(1, 1);
        let running = start(&b);
        let inside = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (b, inside) = (b.clone(), inside.clone());
            loom::thread::spawn(move || run_counted(&b, &inside, 1))
        };
        drop(running);
        assert!(waiter.join().unwrap().is_ok());
        assert_exactly(&b, 1);
    });
}

#[test]
fn a_waiter_dropped_around_its_hand_off_passes_the_slot_on() {
    loom::model(|| {
        // Limit 1: the main thread holds the slot, a waiter joins the queue on another thread and
        // is dropped while the main thread releases the slot (handing it to that waiter, or not).
        let b = bulkhead(1, 1);
        let running = start(&b);
        let waiter = {
            let b = b.clone();
            loom::thread::spawn(move || {
                let mut call = held(&b);
                let first = poll_once(call.as_mut());
                assert!(first.is_pending());
                // Polled again (it may have been granted the slot by now), then dropped.
                let _ = poll_once(call.as_mut());
                drop(call);
            })
        };
        drop(running);
        waiter.join().unwrap();
        assert_exactly(&b, 1);
    });
}

/// Explores the interleavings with at most three preemptions, or `LOOM_MAX_PREEMPTIONS` if set:
/// the lowered-limit model has three threads and takes minutes without a bound (it passes
/// unbounded too: `LOOM_MAX_PREEMPTIONS=200`, loom's largest is 255).
fn model_bounded(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(3);
    builder.check(f);
}

#[test]
fn a_lowered_limit_racing_releases_loses_and_doubles_no_slot() {
    model_bounded(|| {
        // Limit 2, both slots held on the main thread, one waiter parked on another thread. One
        // slot is released on a third thread while the main thread lowers the limit to 1 and then
        // releases the other: the waiter must run (no lost wake-up), and the bulkhead end with
        // exactly one slot.
        let b = bulkhead(2, 1);
        let first = start(&b);
        let second = start(&b);
        let inside = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (b, inside) = (b.clone(), inside.clone());
            loom::thread::spawn(move || run_counted(&b, &inside, 1))
        };
        let releaser = loom::thread::spawn(move || drop(first));
        b.set_max_concurrent(1).unwrap();
        drop(second);
        releaser.join().unwrap();
        assert!(waiter.join().unwrap().is_ok());
        assert_exactly(&b, 1);
    });
}

#[test]
fn a_raised_limit_racing_a_waiter_admits_it() {
    loom::model(|| {
        // The only slot is held for the whole model; raising the limit must admit the waiter.
        let b = bulkhead(1, 1);
        let running = start(&b);
        let inside = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (b, inside) = (b.clone(), inside.clone());
            loom::thread::spawn(move || run_counted(&b, &inside, 1))
        };
        b.set_max_concurrent(2).unwrap();
        assert!(waiter.join().unwrap().is_ok());
        drop(running);
        assert_exactly(&b, 2);
    });
}
