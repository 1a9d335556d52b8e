//! Admission: the future that takes a slot, waiting in the bounded queue if it must.

use super::state::{Permit, Shared};
use super::{BulkheadFull, Event};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// A wait in the queue: its place in the queue count, the semaphore's FIFO wait for a permit, and
/// the `max_wait` timer. tokio's `acquire` future cannot be named, so the whole wait is one
/// boxed future: one allocation per call that has to wait, none on the uncontended path.
type Wait = Pin<Box<dyn Future<Output = (Result<Permit, BulkheadFull>, Instant)> + Send + Sync>>;

/// Takes a slot: at once if one is free and nobody waits, else after a FIFO wait in the bounded
/// queue, at most `max_wait`. Nothing happens until the first poll. Dropping it while it waits
/// leaves the queue at once.
pub(crate) struct Acquire {
    shared: Arc<Shared>,
    wait: Option<Wait>,
    done: bool,
}

impl Acquire {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            wait: None,
            done: false,
        }
    }
}

/// Joins the queue, if there is room, and returns the wait.
fn enqueue(shared: &Arc<Shared>) -> Result<Wait, BulkheadFull> {
    let Some(slot) = shared.try_enqueue() else {
        return Err(reject(shared, BulkheadFull::queue_full(shared.name())));
    };
    let queued = shared.queued();
    shared.listeners.emit(|name| Event::Queued { name, queued });
    let shared = Arc::clone(shared);
    let since = Instant::now();
    let deadline = shared.max_wait.and_then(|w| since.checked_add(w));
    Ok(Box::pin(async move {
        // Held until the wait ends, however it ends.
        let _slot = slot;
        loop {
            let acquire = shared.semaphore.acquire();
            let acquired = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, acquire).await,
                None => Ok(acquire.await),
            };
            let full = match acquired {
                Ok(Ok(permit)) => match shared.admit_queued(permit) {
                    Some(permit) => return (Ok(permit), since),
                    // The permit paid a debt (the limit was just lowered): wait again.
                    None => continue,
                },
                Err(_elapsed) => {
                    BulkheadFull::timed_out(shared.max_wait.unwrap_or_default(), shared.name())
                }
                // The semaphore is never closed, so this cannot happen; were it to, the call is
                // turned away rather than admitted past the limit.
                Ok(Err(_closed)) => BulkheadFull::queue_full(shared.name()),
            };
            return (Err(full), since);
        }
    }))
}

impl Future for Acquire {
    type Output = Result<Permit, BulkheadFull>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.done {
            return Poll::Pending;
        }
        let wait = match &mut this.wait {
            Some(wait) => wait,
            None => {
                if let Some(permit) = this.shared.try_admit() {
                    this.done = true;
                    return Poll::Ready(Ok(permit));
                }
                match enqueue(&this.shared) {
                    Ok(wait) => this.wait.insert(wait),
                    Err(full) => {
                        this.done = true;
                        return Poll::Ready(Err(full));
                    }
                }
            }
        };
        let (result, since) = std::task::ready!(wait.as_mut().poll(cx));
        this.wait = None;
        this.done = true;
        Poll::Ready(match result {
            Ok(permit) => {
                this.shared.emit_admitted(since.elapsed());
                Ok(permit)
            }
            Err(full) => Err(reject(&this.shared, full)),
        })
    }
}

fn reject(shared: &Shared, full: BulkheadFull) -> BulkheadFull {
    shared.count_rejection(full.is_timed_out());
    shared.listeners.emit(|name| Event::Rejected {
        name,
        reason: full.reason(),
    });
    full
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("waiting", &self.wait.is_some())
            .field("done", &self.done)
            .finish()
    }
}
