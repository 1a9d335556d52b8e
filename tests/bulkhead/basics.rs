//! The bulkhead's admission rules, through the standalone `run` door.
#![cfg(feature = "bulkhead")]

use crate::common;
use crate::support;

use bulwark::Error;
use bulwark::bulkhead::{Bulkhead, Event, FullReason};
use common::{Started, bulkhead, full, held_call, poll_once};
use futures::FutureExt;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

#[tokio::test]
async fn admits_up_to_max_concurrent_then_queues_then_turns_away() {
    let b = bulkhead(2, 1);
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    let (mut c3, _t3) = held_call(&b, 3, &started);
    let (mut c4, _t4) = held_call(&b, 4, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    assert!(poll_once(&mut c3).await.is_pending());
    let rejected = full(poll_once(&mut c4).await);
    assert!(rejected.is_queue_full());
    assert_eq!(rejected.reason(), FullReason::QueueFull);
    assert_eq!(started.ids(), vec![1, 2]);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued, m.rejected_queue_full), (2, 1, 1));
}

#[tokio::test]
async fn zero_max_queued_turns_away_at_once_when_full() {
    let b = bulkhead(1, 0);
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    let rejected = full(poll_once(&mut c2).await);
    assert!(rejected.is_queue_full());
    assert_eq!(rejected.to_string(), "bulkhead is full: queue full");
    assert_eq!(started.ids(), vec![1]);
}

#[tokio::test]
async fn slot_is_released_when_the_call_completes() {
    let b = bulkhead(1, 0);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    t1.send(()).unwrap();
    assert!(matches!(poll_once(&mut c1).await, Poll::Ready(Ok(1))));
    // Released on completion, before the future is dropped.
    assert_eq!(b.metrics().in_flight, 0);
    assert_eq!(b.run(|| async { Ok::<_, Infallible>(7) }).await, Ok(7));
}

#[tokio::test]
async fn inner_errors_pass_through_as_inner() {
    let b = bulkhead(1, 0);
    let err = b.run(|| async { Err::<(), _>("boom") }).await.unwrap_err();
    assert_eq!(err, Error::Inner("boom"));
    assert_eq!(err.to_string(), "boom");
    assert_eq!(err.into_inner(), Some("boom"));
}

#[tokio::test]
async fn waiters_are_served_first_in_first_out() {
    let b = bulkhead(1, 10);
    let started = Started::default();
    let mut calls = Vec::new();
    for id in 0..8 {
        let (mut c, t) = held_call(&b, id, &started);
        assert!(poll_once(&mut c).await.is_pending());
        calls.push((c, t));
    }
    assert_eq!(b.metrics().queued, 7);
    for id in 0..8u32 {
        // Poll every waiter: only the head of the queue may start.
        for (c, _) in calls.iter_mut() {
            let _ = poll_once(c).await;
        }
        assert_eq!(started.ids(), (0..=id).collect::<Vec<_>>());
        let (mut c, t) = calls.remove(0);
        t.send(()).unwrap();
        assert!(matches!(poll_once(&mut c).await, Poll::Ready(Ok(x)) if x == id));
    }
}

#[tokio::test]
async fn a_new_call_does_not_overtake_the_queue() {
    let b = bulkhead(1, 2);
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    // The slot went to the waiter, even though it has not been polled yet.
    let (mut c3, _t3) = held_call(&b, 3, &started);
    assert!(poll_once(&mut c3).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    assert_eq!(started.ids(), vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn max_wait_turns_a_waiter_away_once_spent() {
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    tokio::time::advance(Duration::from_millis(99)).await;
    assert!(poll_once(&mut c2).await.is_pending());
    tokio::time::advance(Duration::from_millis(1)).await;
    let rejected = full(poll_once(&mut c2).await);
    assert!(rejected.is_timed_out());
    assert_eq!(
        rejected.reason(),
        FullReason::TimedOut {
            after: Duration::from_millis(100)
        }
    );
    assert_eq!(
        rejected.to_string(),
        "bulkhead is full: no slot within 100ms"
    );
    let m = b.metrics();
    assert_eq!((m.queued, m.rejected_timed_out), (0, 1));
    assert_eq!(started.ids(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_admitted_before_max_wait_runs() {
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Started::default();
    let (mut c1, t1) = held_call(&b, 1, &started);
    let (mut c2, t2) = held_call(&b, 2, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    tokio::time::advance(Duration::from_millis(60)).await;
    t1.send(()).unwrap();
    assert!(poll_once(&mut c1).await.is_ready());
    // Admitted at 60 ms; running past the wait limit does not matter once admitted.
    tokio::time::advance(Duration::from_millis(500)).await;
    assert!(poll_once(&mut c2).await.is_pending());
    t2.send(()).unwrap();
    assert!(matches!(poll_once(&mut c2).await, Poll::Ready(Ok(2))));
}

#[test]
fn build_rejects_invalid_settings_naming_the_field() {
    let err = Bulkhead::builder().max_concurrent(0).build().unwrap_err();
    assert_eq!(err.field(), "max_concurrent");
    assert_eq!(
        err.to_string(),
        "invalid bulkhead setting `max_concurrent`: must be at least 1"
    );
    let err = Bulkhead::builder()
        .max_concurrent(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_concurrent");
    let err = Bulkhead::builder()
        .max_queued(1)
        .max_wait(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_wait");
}

#[test]
fn an_invalid_runtime_limit_is_rejected_and_the_old_one_kept() {
    let b = bulkhead(3, 0);
    assert_eq!(
        b.set_max_concurrent(0).unwrap_err().field(),
        "max_concurrent"
    );
    assert_eq!(b.metrics().max_concurrent, 3);
}

#[tokio::test(start_paused = true)]
async fn events_report_admitted_queued_and_rejected() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(Duration::from_millis(10))
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    let (mut c2, _t2) = held_call(&b, 2, &started);
    let (mut c3, _t3) = held_call(&b, 3, &started);
    assert!(poll_once(&mut c1).await.is_pending());
    assert!(poll_once(&mut c2).await.is_pending());
    assert!(poll_once(&mut c3).await.is_ready());
    tokio::time::advance(Duration::from_millis(10)).await;
    assert!(poll_once(&mut c2).await.is_ready());
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            Event::Admitted {
                name: "bulkhead".into(),
                waited: Duration::ZERO
            },
            Event::Queued {
                name: "bulkhead".into(),
                queued: 1
            },
            Event::Rejected {
                name: "bulkhead".into(),
                reason: FullReason::QueueFull
            },
            Event::Rejected {
                name: "bulkhead".into(),
                reason: FullReason::TimedOut {
                    after: Duration::from_millis(10)
                }
            },
        ]
    );
}

#[test]
fn clones_share_one_bulkhead() {
    let b = bulkhead(1, 0);
    let clone = b.clone();
    let started = Started::default();
    let (mut c1, _t1) = held_call(&b, 1, &started);
    assert!(c1.as_mut().now_or_never().is_none());
    let rejected = clone
        .run(|| async { Ok::<_, Infallible>(2) })
        .now_or_never();
    assert!(matches!(rejected, Some(Err(Error::BulkheadFull(_)))));
}

#[test]
fn uncontended_run_allocates_nothing() {
    let b = bulkhead(4, 4);
    let per_call = support::allocations_per_call(16, 1000, || {
        let out = b.run(|| async { Ok::<_, Infallible>(1) }).now_or_never();
        assert_eq!(out, Some(Ok(1)));
    });
    assert_eq!(per_call, 0.0);
}

#[test]
fn handles_and_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Bulkhead>();
    send_sync::<bulwark::bulkhead::BulkheadLayer>();
    send_sync::<
        bulwark::bulkhead::BulkheadService<tower::util::BoxCloneSyncService<u8, u8, Infallible>>,
    >();
    let b = bulkhead(1, 1);
    let run = b.run(|| async { Ok::<_, Infallible>(()) });
    fn is_send<T: Send>(_: &T) {}
    is_send(&run);
    send::<
        bulwark::bulkhead::ResponseFuture<tower::util::BoxCloneSyncService<u8, u8, Infallible>, u8>,
    >();
}

#[test]
fn the_largest_limit_tokio_allows_is_accepted_and_one_more_is_not() {
    let max = tokio::sync::Semaphore::MAX_PERMITS;
    let b = Bulkhead::builder().max_concurrent(max).build().unwrap();
    assert_eq!(b.metrics().max_concurrent, max);
    let err = Bulkhead::builder()
        .max_concurrent(max + 1)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_concurrent");
    assert!(b.set_max_concurrent(max + 1).is_err());
    b.set_max_concurrent(1).unwrap();
    b.set_max_concurrent(max).unwrap();
    assert_eq!(b.metrics().max_concurrent, max);
}
