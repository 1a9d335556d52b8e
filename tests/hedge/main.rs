//! Hedged requests: when hedges are sent (the delay, the cap, the budget), what wins, what
//! happens to the losers, failures and panics, the percentile delay, the tower door, events and
//! allocations.
#![cfg(feature = "hedge")]

mod alloc;
mod budget;
mod layer;
mod panics;
mod percentile;
#[path = "../common/mod.rs"]
mod support;
mod timing;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// A future that answers `out` after `after` (never, for `None`), and counts its drops.
pub(crate) struct Attempt<T> {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    out: Option<T>,
    drops: Arc<AtomicUsize>,
}

impl<T> Attempt<T> {
    pub(crate) fn new(after: Option<Duration>, out: T, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            sleep: after.map(|d| Box::pin(tokio::time::sleep(d))),
            out: Some(out),
            drops: Arc::clone(drops),
        }
    }
}

impl<T: Unpin> Future for Attempt<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.sleep {
            None => Poll::Pending,
            Some(sleep) => {
                std::task::ready!(sleep.as_mut().poll(cx));
                Poll::Ready(self.out.take().expect("polled after it answered"))
            }
        }
    }
}

impl<T> Drop for Attempt<T> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
