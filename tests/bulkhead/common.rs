//! Helpers shared by the bulkhead test files: calls held open until released, polled by hand.
#![allow(dead_code)]

use bulwark::Error;
use bulwark::bulkhead::{Bulkhead, BulkheadFull};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::oneshot;

pub(crate) type Outcome = Result<u32, Error<Infallible>>;
pub(crate) type Call = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The ids of the calls whose closure has started, in order.
#[derive(Clone, Default)]
pub(crate) struct Started(Arc<Mutex<Vec<u32>>>);

impl Started {
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.0.lock().unwrap().clone()
    }
}

/// A call that records its start and then runs until its sender is used or dropped.
pub(crate) fn held_call(b: &Bulkhead, id: u32, started: &Started) -> (Call, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let started = started.clone();
    let call = b.run(move || async move {
        started.0.lock().unwrap().push(id);
        let _ = rx.await;
        Ok(id)
    });
    (Box::pin(call), tx)
}

pub(crate) async fn poll_once(call: &mut Call) -> Poll<Outcome> {
    futures::poll!(call.as_mut())
}

pub(crate) fn bulkhead(max_concurrent: usize, max_queued: usize) -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(max_concurrent)
        .max_queued(max_queued)
        .build()
        .unwrap()
}

pub(crate) fn full(outcome: Poll<Outcome>) -> BulkheadFull {
    match outcome {
        Poll::Ready(Err(Error::BulkheadFull(full))) => full,
        other => panic!("expected a rejection, got {other:?}"),
    }
}
