//! The retry pattern, tower door: how requests are had again (copies only when another attempt
//! may follow, non-Clone requests rebuilt or recovered, or sent once).
#![cfg(feature = "retry")]

use crate::common as retry_common;
use retry_common::{MS, fixed};

use bulwark::retry::{Event, GiveUpReason, Retry};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

fn retry(max_attempts: u32, delay: Duration) -> Retry {
    Retry::builder()
        .max_attempts(max_attempts)
        .backoff(fixed(delay))
        .no_budget()
        .build()
        .unwrap()
}

/// Counts its clones.
#[derive(Debug)]
struct Counted(Arc<AtomicU32>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(self.0.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn the_request_is_copied_only_before_attempts_another_may_follow() {
    let clones = Arc::new(AtomicU32::new(0));
    let always_fails = service_fn(|_: Counted| async { Err::<(), BoxError>("no".into()) });

    // One attempt allowed: nothing is ever copied.
    let mut once = retry(1, MS).layer().layer(always_fails);
    let _ = once
        .ready()
        .await
        .unwrap()
        .call(Counted(clones.clone()))
        .await;
    assert_eq!(clones.load(Ordering::SeqCst), 0);

    // Three attempts: copies before the first and the second, none before the last.
    let mut thrice = retry(3, MS).layer().layer(always_fails);
    let _ = thrice
        .ready()
        .await
        .unwrap()
        .call(Counted(clones.clone()))
        .await;
    assert_eq!(clones.load(Ordering::SeqCst), 2);
}

/// A request that cannot be cloned (a body readable once).
#[derive(Debug)]
struct Streaming {
    bytes: Vec<u8>,
}

#[tokio::test(start_paused = true)]
async fn non_clone_requests_are_retried_with_a_rebuild_hook() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Streaming| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err::<usize, BoxError>("reset".into())
            } else {
                Ok(req.bytes.len())
            }
        }
    });
    let mut svc = retry(3, MS)
        .layer()
        .rebuild_with(|req: &Streaming| {
            Some(Streaming {
                bytes: req.bytes.clone(),
            })
        })
        .layer(inner);
    let len = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming {
            bytes: vec![1, 2, 3],
        })
        .await
        .unwrap();
    assert_eq!((len, calls.load(Ordering::SeqCst)), (3, 2));
}

/// An error that gives the request back, as clients that fail before sending do.
#[derive(Debug)]
struct NotSent(Option<Streaming>);

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection not ready; request not sent")
    }
}

impl std::error::Error for NotSent {}

#[tokio::test(start_paused = true)]
async fn non_clone_requests_are_retried_from_the_request_an_error_gives_back() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |req: Streaming| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                Err::<usize, BoxError>(NotSent(Some(req)).into())
            } else {
                Ok(req.bytes.len())
            }
        }
    });
    let mut svc = retry(3, MS)
        .layer()
        .recover_with(|err: &mut BoxError| err.downcast_mut::<NotSent>()?.0.take())
        .layer(inner);
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming { bytes: vec![9; 4] })
        .await;
    assert_eq!((out.unwrap(), calls.load(Ordering::SeqCst)), (4, 3));
}

#[tokio::test(start_paused = true)]
async fn requests_with_no_copy_are_sent_once() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let retry = Retry::builder()
        .no_budget()
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_: Streaming| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), BoxError>("reset".into()) }
    });
    let mut svc = retry
        .layer()
        .rebuild_with(|_: &Streaming| None)
        .layer(inner);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(Streaming { bytes: vec![] })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "reset");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        events.lock().unwrap()[..],
        [Event::GaveUp {
            name: "retry".into(),
            attempts: 1,
            reason: GiveUpReason::NoRequest
        }]
    );
}
