//! Many tasks on a multi-thread runtime against one bulkhead: the limits hold and nothing leaks,
#![cfg(feature = "bulkhead")]
//! whatever is cancelled when.

use bulwark::Error;
use bulwark::bulkhead::{Bulkhead, Event};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt, service_fn};

const TASKS: usize = 24;
const CALLS: usize = 150;

/// Resolves to `None`, dropping the inner future, after it has been pending `polls` times.
struct CancelAfter<F> {
    future: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Counts the calls running now and records the most ever seen at once.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

struct Running(Gauge);

impl Gauge {
    fn enter(&self) -> Running {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        Running(self.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn work(gauge: Gauge, yields: u32) {
    let _running = gauge.enter();
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
}

/// Runs `TASKS` tasks of `CALLS` calls each, half through `run`, half through the layer (both
/// modes), some cancelled while queued or running. Returns the tasks' outcome counts.
async fn hammer(b: &Bulkhead, gauge: &Gauge, seed: u64) -> (usize, usize) {
    let admitted = Arc::new(AtomicUsize::new(0));
    let rejected = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let b = b.clone();
        let gauge = gauge.clone();
        let (admitted, rejected) = (admitted.clone(), rejected.clone());
        handles.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed + task as u64);
            let layer = if task % 4 == 0 {
                b.layer().backpressure()
            } else {
                b.layer()
            };
            let g = gauge.clone();
            let mut svc = layer.layer(service_fn(move |yields: u32| {
                let g = g.clone();
                async move {
                    work(g, yields).await;
                    Ok::<_, Infallible>(())
                }
            }));
            for _ in 0..CALLS {
                let yields = rng.random_range(0..4);
                let polls = if rng.random_bool(0.2) {
                    rng.random_range(0..3)
                } else {
                    u32::MAX
                };
                let outcome: Option<Result<(), bool>> = if task % 2 == 0 {
                    let g = gauge.clone();
                    let call = b.run(move || async move {
                        work(g, yields).await;
                        Ok::<_, Infallible>(())
                    });
                    let future = CancelAfter {
                        future: Box::pin(call),
                        polls,
                    };
                    future.await.map(|r| {
                        r.map_err(|e: Error<Infallible>| matches!(e, Error::BulkheadFull(_)))
                    })
                } else {
                    let ready = svc.ready().await.unwrap();
                    let future = CancelAfter {
                        future: Box::pin(ready.call(yields)),
                        polls,
                    };
                    future.await.map(|r| r.map_err(|_| true))
                };
                match outcome {
                    Some(Ok(())) => admitted.fetch_add(1, Ordering::Relaxed),
                    Some(Err(_)) => rejected.fetch_add(1, Ordering::Relaxed),
                    None => 0,
                };
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    (
        admitted.load(Ordering::Relaxed),
        rejected.load(Ordering::Relaxed),
    )
}

/// After the storm, exactly `limit` calls can hold a slot: no slot leaked, none was minted.
async fn assert_exactly(b: &Bulkhead, limit: usize) {
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0), "{m:?}");
    b.set_max_queued(0);
    let (tx, rx) = tokio::sync::watch::channel(());
    let mut held = Vec::new();
    for _ in 0..limit {
        let mut rx = rx.clone();
        let mut call = Box::pin(b.run(move || async move {
            let _ = rx.changed().await;
            Ok::<_, Infallible>(())
        }));
        assert!(futures::poll!(call.as_mut()).is_pending());
        held.push(call);
    }
    let over = b.run(|| async { Ok::<_, Infallible>(()) }).await;
    assert!(matches!(over.unwrap_err(), Error::BulkheadFull(_)));
    drop(tx);
    for call in held {
        call.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_hold_under_many_tasks_with_cancellation() {
    // Every call that joins the queue reports the queue's length, itself included.
    let queued_on_join = Arc::new(AtomicUsize::new(0));
    let seen = queued_on_join.clone();
    let b = Bulkhead::builder()
        .max_concurrent(3)
        .max_queued(5)
        .on_event(move |e| {
            if let Event::Queued { queued, .. } = e {
                seen.fetch_max(*queued, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let gauge = Gauge::default();
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (b, stop) = (b.clone(), stop.clone());
        tokio::spawn(async move {
            let mut max_queued = 0;
            while !stop.load(Ordering::Relaxed) {
                max_queued = max_queued.max(b.metrics().queued);
                tokio::task::yield_now().await;
            }
            max_queued
        })
    };
    let (admitted, rejected) = hammer(&b, &gauge, 7).await;
    stop.store(true, Ordering::Relaxed);
    let max_queued_seen = monitor.await.unwrap();
    assert!(gauge.max.load(Ordering::SeqCst) <= 3);
    assert!(max_queued_seen <= 5);
    let joined = queued_on_join.load(Ordering::SeqCst);
    assert!(joined > 0 && joined <= 5, "{joined}");
    assert!(admitted > 0 && rejected > 0, "{admitted} {rejected}");
    let m = b.metrics();
    assert_eq!(m.rejected_queue_full as usize, rejected);
    assert_exactly(&b, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_changes_under_load_leak_nothing() {
    let b = Bulkhead::builder()
        .max_concurrent(4)
        .max_queued(6)
        .max_wait(Duration::from_millis(1))
        .build()
        .unwrap();
    let gauge = Gauge::default();
    let stop = Arc::new(AtomicBool::new(false));
    let changer = {
        let (b, stop) = (b.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(99);
            while !stop.load(Ordering::Relaxed) {
                b.set_max_concurrent(rng.random_range(1..=6)).unwrap();
                b.set_max_queued(rng.random_range(0..=6));
                tokio::task::yield_now().await;
            }
        })
    };
    hammer(&b, &gauge, 1000).await;
    stop.store(true, Ordering::Relaxed);
    changer.await.unwrap();
    assert!(gauge.max.load(Ordering::SeqCst) <= 6);
    b.set_max_concurrent(5).unwrap();
    assert_exactly(&b, 5).await;
    b.set_max_concurrent(2).unwrap();
    assert_exactly(&b, 2).await;
}
