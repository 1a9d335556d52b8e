//! Cancellation at every stage of a call, and limits changed while calls run.
#![cfg(feature = "bulkhead")]

use crate::common;

use bulwark::bulkhead::Bulkhead;
use common::{Started, bulkhead, full, held_call, poll_once};
use std::time::Duration;

#[tokio::test]
async fn dropping_a_call_before_its_first_poll_takes_nothing() {
    let b = bulkhead(1, 1);
    let started = Started::default();
    let (c1, _t1) = held_call(&b, 1, &started);
    drop(c1);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0));
    assert!(started.ids().is_empty());
}

#[tokio::test]
async fn dropping_a_waiter_leaves_the_queue_at_once() {
    let b = bulkhead(1, 1);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    let (mut c3, _t3) = held_call(&b, 3, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    drop(c2);
    assert_eq!(b.metrics().queued, 0);
    // Its place can be taken, and the slot goes to the next waiter.
    assert!(poll_once(&mut c3).await.is_pending());
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    assert!(poll_once(&mut c3).await.is_pending());
    assert_eq!(started.ids(), vec![1, 3]);
}

#[tokio::test]
async fn dropping_an_admitted_waiter_before_it_runs_passes_the_slot_on() {
    let b = bulkhead(1, 2);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    let (mut c3, _t3) = held_call(&b, 3, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    assert!(poll_once(&mut c3).await.is_pending());
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    // The slot was handed to call 2, which is dropped before it could run.
    drop(c2);
    assert!(poll_once(&mut c3).await.is_pending());
    assert_eq!(started.ids(), vec![1, 3]);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (1, 0));
}

#[tokio::test]
async fn dropping_a_running_call_frees_its_slot() {
    let b = bulkhead(1, 1);
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    drop(c1);
    assert!(poll_once(&mut c2).await.is_pending());
    assert_eq!(started.ids(), vec![1, 2]);
    drop(c2);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_waiter_with_a_timer_leaves_nothing_behind() {
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    drop(c2);
    tokio::time::advance(Duration::from_secs(2)).await;
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued, m.rejected_timed_out), (0, 0, 0));
}

#[tokio::test]
async fn raising_max_concurrent_admits_waiters_at_once() {
    let b = bulkhead(1, 5);
    let started = Started::default();
    let mut calls = Vec::new();
    for id in 0..4 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        calls.push((c, t));
    }
    b.set_max_concurrent(3).unwrap();
    for (c, _) in calls.iter_mut() {
        let _ = poll_once(c).await;
    }
    assert_eq!(started.ids(), vec![0, 1, 2]);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued, m.max_concurrent), (3, 1, 3));
}

#[tokio::test]
async fn lowering_max_concurrent_keeps_running_calls_and_admits_below_the_new_limit() {
    let b = bulkhead(3, 5);
    let started = Started::default();
    let mut running = Vec::new();
    for id in 0..3 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        running.push((c, t));
    }
    let (mut waiter, _tw) = held_call(&b, 9, &started);
    assert!(poll_once(&mut waiter).await.is_pending());
    b.set_max_concurrent(1).unwrap();
    // Nothing running is cancelled.
    assert_eq!(b.metrics().in_flight, 3);
    for expect_in_flight in [2, 1] {
        let (mut c, t) = running.remove(0);
        t.send(()).unwrap();
        assert!(poll_once(&mut c).await.is_ready());
        assert!(poll_once(&mut waiter).await.is_pending());
        assert_eq!(started.ids(), vec![0, 1, 2]);
        assert_eq!(b.metrics().in_flight, expect_in_flight);
    }
    let (mut c, t) = running.remove(0);
    t.send(()).unwrap();
    assert!(poll_once(&mut c).await.is_ready());
    assert!(poll_once(&mut waiter).await.is_pending());
    assert_eq!(started.ids(), vec![0, 1, 2, 9]);
    assert_eq!(b.metrics().in_flight, 1);
}

#[tokio::test]
async fn lowering_then_raising_the_limit_restores_exactly_the_new_limit() {
    let b = bulkhead(4, 0);
    let started = Started::default();
    let mut running = Vec::new();
    for id in 0..4 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        running.push((c, t));
    }
    b.set_max_concurrent(1).unwrap();
    b.set_max_concurrent(2).unwrap();
    // Two of the four running calls are now over the limit; finishing them admits nobody.
    drop(running.drain(..3));
    assert_eq!(b.metrics().in_flight, 1);
    let (mut c, _t) = held_call(&b, 10, &started);
    assert!(poll_once(&mut c).await.is_pending());
    let (mut over, _to) = held_call(&b, 11, &started);
    assert!(full(poll_once(&mut over).await).is_queue_full());
    assert_eq!(b.metrics().in_flight, 2);
}

#[tokio::test]
async fn lowering_max_queued_keeps_the_waiters_already_queued() {
    let b = bulkhead(1, 3);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    let (mut c3, _t3) = held_call(&b, 3, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    assert!(poll_once(&mut c3).await.is_pending());
    b.set_max_queued(1);
    let (mut c4, _t4) = held_call(&b, 4, &started);
    assert!(full(poll_once(&mut c4).await).is_queue_full());
    assert_eq!(b.metrics().queued, 2);
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    assert!(poll_once(&mut c2).await.is_pending());
    assert_eq!(started.ids(), vec![1, 2]);
}

#[tokio::test]
async fn a_waiter_handed_a_slot_just_before_the_limit_drops_gives_it_back_and_waits_again() {
    let b = bulkhead(2, 2);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, t2) = held_call(&b, 2, &started);
    let (mut w, _tw) = held_call(&b, 3, &started);
    let (mut x, _tx) = held_call(&b, 4, &started);
    for c in [&mut c1, &mut c2, &mut w, &mut x] {
        assert!(poll_once(c).await.is_pending());
    }
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    // The slot was handed to call 3, which has not run yet when the limit drops to 1.
    b.set_max_concurrent(1).unwrap();
    assert!(poll_once(&mut w).await.is_pending());
    assert_eq!(started.ids(), vec![1, 2]);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (1, 2));
    // Call 3 joined the back of the queue: the next slot goes to call 4.
    t2.send(()).unwrap();
    assert!(poll_once(&mut c2).await.is_ready());
    assert!(poll_once(&mut w).await.is_pending());
    assert!(poll_once(&mut x).await.is_pending());
    assert_eq!(started.ids(), vec![1, 2, 4]);
}

#[tokio::test]
async fn raising_the_limit_past_many_waiters_admits_them_all_in_order() {
    // More waiters than one hand-off wakes at a time: all are admitted, first in, first out.
    let b = bulkhead(1, 40);
    let started = Started::default();
    let (mut first, _t) = held_call(&b, 100, &started);
    assert!(poll_once(&mut first).await.is_pending());
    let mut calls = Vec::new();
    for id in 0..30 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        calls.push((c, t));
    }
    assert_eq!(b.metrics().queued, 30);
    b.set_max_concurrent(26).unwrap();
    for (c, _) in calls.iter_mut() {
        let _ = poll_once(c).await;
    }
    let mut expected = vec![100];
    expected.extend(0..25);
    assert_eq!(started.ids(), expected);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (26, 5));
    // The rest follow as slots free up, still in order.
    drop(calls.drain(..5));
    for (c, _) in calls.iter_mut() {
        let _ = poll_once(c).await;
    }
    expected.extend(25..30);
    assert_eq!(started.ids(), expected);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (26, 0));
}

#[tokio::test]
async fn a_queue_emptied_after_a_burst_of_waiters_serves_the_next_in_order() {
    // A burst of 300 waiters leaves, then the queue is used again from scratch.
    let b = bulkhead(1, 1000);
    let started = Started::default();
    let (mut first, t) = held_call(&b, 1000, &started);
    assert!(poll_once(&mut first).await.is_pending());
    let mut burst = Vec::new();
    for id in 0..300 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        burst.push((c, t));
    }
    drop(burst);
    assert_eq!(b.metrics().queued, 0);
    let (mut a, _ta) = held_call(&b, 1, &started);
    let (mut c, _tc) = held_call(&b, 2, &started);
    assert!(poll_once(&mut a).await.is_pending());
    assert!(poll_once(&mut c).await.is_pending());
    assert_eq!(b.metrics().queued, 2);
    t.send(()).unwrap();
    assert!(poll_once(&mut first).await.is_ready());
    assert!(poll_once(&mut a).await.is_pending());
    assert!(poll_once(&mut c).await.is_pending());
    assert_eq!(started.ids(), vec![1000, 1]);
    assert_eq!(b.metrics().queued, 1);
}

/// Raising the limit for more waiters than one pass of the queue wakes (eight) wakes every waiter
/// it admits: none is left holding a slot while its task sleeps.
#[tokio::test(start_paused = true)]
async fn raising_max_concurrent_wakes_every_waiter_it_admits() {
    let b = bulkhead(1, 20);
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn({
        let b = b.clone();
        async move { b.run(|| async { hold.await.map_err(|_| "dropped") }).await }
    });
    tokio::task::yield_now().await;
    let waiters: Vec<_> = (0..12)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move { b.run(|| async { Ok::<_, &str>(()) }).await })
        })
        .collect();
    while b.metrics().queued < 12 {
        tokio::task::yield_now().await;
    }
    b.set_max_concurrent(13).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(1), async {
        for w in waiters {
            w.await.unwrap().unwrap();
        }
    })
    .await;
    assert!(done.is_ok(), "a waiter given a slot was never woken");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(b.metrics().in_flight, 0);
}

/// A call's future that, when dropped, records the bulkhead's slots in use at that moment.
struct Records {
    ready: bool,
    bulkhead: Bulkhead,
    seen: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

impl std::future::Future for Records {
    type Output = Result<u32, std::io::Error>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.ready {
            std::task::Poll::Ready(Ok(1))
        } else {
            std::task::Poll::Pending
        }
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        self.seen
            .lock()
            .unwrap()
            .push(self.bulkhead.metrics().in_flight);
    }
}

/// A call's future is dropped before its slot is freed, when it completes and when the call is
/// dropped: a future that holds a connection until it is dropped never overlaps the call the
/// freed slot admits next. Both doors.
#[tokio::test]
async fn a_calls_future_is_gone_before_its_slot_is_freed() {
    use futures::FutureExt;
    use tower::{Service, ServiceExt};
    let b = bulkhead(1, 1);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let records = |ready| Records {
        ready,
        bulkhead: b.clone(),
        seen: seen.clone(),
    };
    assert_eq!(b.run(|| records(true)).await.unwrap(), 1);
    let mut hung = Box::pin(b.run(|| records(false)));
    assert!((&mut hung).now_or_never().is_none());
    drop(hung);
    assert_eq!(*seen.lock().unwrap(), [1, 1]);

    let inner = tower::service_fn(|ready: bool| records(ready));
    let mut svc = tower::Layer::layer(&b.layer(), inner);
    assert_eq!(svc.ready().await.unwrap().call(true).await.unwrap(), 1);
    let mut hung = Box::pin(svc.ready().await.unwrap().call(false));
    assert!((&mut hung).now_or_never().is_none());
    drop(hung);
    assert_eq!(*seen.lock().unwrap(), [1, 1, 1, 1]);
    assert_eq!(b.metrics().in_flight, 0);
}

/// A call whose closure, future, inner service or response future panics: the panic reaches the
/// caller and the slot is back, for the next call. Both doors.
#[tokio::test]
async fn a_panicking_call_frees_its_slot() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;
    use tower::{Service, ServiceExt};
    async fn panicking() -> Result<u32, std::io::Error> {
        panic!("the call's future panicked")
    }
    let b = bulkhead(1, 1);
    for in_future in [false, true] {
        let call = async {
            b.run(|| {
                assert!(in_future, "the closure panicked");
                panicking()
            })
            .await
        };
        assert!(AssertUnwindSafe(call).catch_unwind().await.is_err());
        assert_eq!(b.metrics().in_flight, 0);
        assert!(b.run(|| async { Ok::<_, ()>(1) }).await.is_ok());

        let inner = tower::service_fn(move |()| {
            assert!(in_future, "the inner service's call panicked");
            panicking()
        });
        let mut svc = tower::Layer::layer(&b.layer(), inner);
        let call = async { svc.ready().await?.call(()).await };
        let out: Result<Result<u32, tower::BoxError>, _> =
            AssertUnwindSafe(call).catch_unwind().await;
        assert!(out.is_err(), "the panic reaches the caller");
        assert_eq!(b.metrics().in_flight, 0);
        assert!(b.run(|| async { Ok::<_, ()>(1) }).await.is_ok());
    }
}

/// A call's future whose drop panics: the slot is freed all the same, after it completed and
/// when the call is dropped while it runs.
#[tokio::test]
async fn a_call_whose_drop_panics_still_frees_its_slot() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;
    struct PanicsOnDrop(bool);
    impl std::future::Future for PanicsOnDrop {
        type Output = Result<u32, ()>;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            if self.0 {
                std::task::Poll::Ready(Ok(1))
            } else {
                std::task::Poll::Pending
            }
        }
    }
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the call's drop panicked");
        }
    }
    let b = bulkhead(1, 1);
    let call = b.run(|| PanicsOnDrop(true));
    assert!(AssertUnwindSafe(call).catch_unwind().await.is_err());
    assert_eq!(b.metrics().in_flight, 0);
    let mut running = Box::pin(b.run(|| PanicsOnDrop(false)));
    assert!((&mut running).now_or_never().is_none());
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| drop(running))).is_err());
    assert_eq!(b.metrics().in_flight, 0);
    assert!(b.run(|| async { Ok::<_, ()>(1) }).await.is_ok());
}
