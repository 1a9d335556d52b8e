//! Admission: the future that takes a slot, waiting in the bounded queue if it must.

use super::state::{Permit, QueueSlot, Shared};
use super::{BulkheadFull, Event};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{AcquireError, OwnedSemaphorePermit};
use tokio::time::{Instant, Sleep};

/// The semaphore's `acquire_owned` future. Its type cannot be named, so it is boxed: one
/// allocation per call that has to wait, none on the uncontended path.
type WaitFuture =
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send + Sync>>;

struct Waiting {
    future: WaitFuture,
    since: Instant,
    /// Held for as long as the call waits; dropping it leaves the queue count.
    _slot: QueueSlot,
}

pin_project! {
    /// Takes a slot: at once if one is free and nobody waits, else after a FIFO wait in the
    /// bounded queue, at most `max_wait`. Nothing happens until the first poll. Dropping it while
    /// it waits leaves the queue at once.
    pub(crate) struct Acquire {
        shared: Arc<Shared>,
        waiting: Option<Waiting>,
        #[pin]
        sleep: Option<Sleep>,
        done: bool,
    }
}

impl Acquire {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            waiting: None,
            sleep: None,
            done: false,
        }
    }
}

impl Future for Acquire {
    type Output = Result<Permit, BulkheadFull>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.done {
            return Poll::Pending;
        }
        let shared = &*this.shared;
        if this.waiting.is_none() {
            if let Some(permit) = this.shared.try_acquire() {
                *this.done = true;
                shared.listeners.emit(|| Event::Admitted {
                    waited: Duration::ZERO,
                });
                return Poll::Ready(Ok(permit));
            }
            let Some(slot) = this.shared.try_enqueue() else {
                *this.done = true;
                return Poll::Ready(Err(reject(shared, BulkheadFull::queue_full())));
            };
            let since = Instant::now();
            if let Some(deadline) = shared.max_wait.and_then(|w| since.checked_add(w)) {
                this.sleep.set(Some(tokio::time::sleep_until(deadline)));
            }
            let queued = shared.queued();
            shared.listeners.emit(|| Event::Queued { queued });
            *this.waiting = Some(Waiting {
                future: Box::pin(Arc::clone(&shared.semaphore).acquire_owned()),
                since,
                _slot: slot,
            });
        }
        let Some(waiting) = this.waiting.as_mut() else {
            return Poll::Pending;
        };
        if let Poll::Ready(result) = waiting.future.as_mut().poll(cx) {
            let since = waiting.since;
            *this.waiting = None;
            this.sleep.set(None);
            *this.done = true;
            // The semaphore is never closed, so an error cannot happen; were it to, the call is
            // turned away rather than admitted past the limit.
            let Ok(permit) = result else {
                return Poll::Ready(Err(reject(shared, BulkheadFull::queue_full())));
            };
            let permit = Permit::adopt(this.shared, permit);
            shared.listeners.emit(|| Event::Admitted {
                waited: since.elapsed(),
            });
            return Poll::Ready(Ok(permit));
        }
        if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_ready() {
                *this.waiting = None;
                this.sleep.set(None);
                *this.done = true;
                let after = shared.max_wait.unwrap_or_default();
                return Poll::Ready(Err(reject(shared, BulkheadFull::timed_out(after))));
            }
        }
        Poll::Pending
    }
}

fn reject(shared: &Shared, full: BulkheadFull) -> BulkheadFull {
    shared.count_rejection(full.is_timed_out());
    shared.listeners.emit(|| Event::Rejected {
        reason: full.reason(),
    });
    full
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("waiting", &self.waiting.is_some())
            .field("timer_armed", &self.sleep.is_some())
            .field("done", &self.done)
            .finish()
    }
}
