//! Admission: the future that takes a slot, waiting in the bounded queue if it must.

use super::semaphore::{Join, Wait};
use super::state::{Lane, Permit, Shared};
use super::{BulkheadFull, Event};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// Takes a slot: at once if one is free and nobody waits, else after a FIFO wait in the bounded
/// queue, at most `max_wait`. Nothing happens until the first poll. Dropping it while it waits
/// leaves the queue at once (handing on a slot it was granted but had not collected).
pub(crate) struct Acquire {
    /// The lane of the thread the call started on.
    lane: Lane,
    stage: Stage,
}

enum Stage {
    Start,
    /// In the queue under `key` (whose node keeps the time it joined, so that every call's
    /// future stays small); the `max_wait` timer, if there is one (boxed: only a call that waits
    /// with a `max_wait` allocates).
    Waiting {
        key: usize,
        timer: Option<Pin<Box<Sleep>>>,
    },
    Done,
}

impl Acquire {
    pub(super) fn new(lane: Lane) -> Self {
        Self {
            lane,
            stage: Stage::Start,
        }
    }

    /// Joins the queue, if there is room.
    fn join(&mut self) -> Result<Option<Permit>, BulkheadFull> {
        match self.lane.join() {
            Join::Admitted => {
                self.lane.emit_admitted(Duration::ZERO);
                Ok(Some(Shared::permit(&self.lane)))
            }
            Join::Full => Err(reject(
                &self.lane,
                BulkheadFull::queue_full(self.lane.name()),
            )),
            Join::Queued { key, queued, since } => {
                let timer = self
                    .lane
                    .max_wait()
                    .and_then(|w| since.checked_add(w))
                    .map(|deadline| Box::pin(tokio::time::sleep_until(deadline)));
                self.stage = Stage::Waiting { key, timer };
                self.lane
                    .listeners
                    .emit(|name| Event::Queued { name, queued });
                Ok(None)
            }
        }
    }
}

impl Future for Acquire {
    type Output = Result<Permit, BulkheadFull>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Stage::Start = this.stage {
            if let Some(permit) = Shared::try_admit(&this.lane, this.lane.home()) {
                this.stage = Stage::Done;
                return Poll::Ready(Ok(permit));
            }
            match this.join() {
                Ok(None) => {}
                Ok(Some(permit)) => {
                    this.stage = Stage::Done;
                    return Poll::Ready(Ok(permit));
                }
                Err(full) => {
                    this.stage = Stage::Done;
                    return Poll::Ready(Err(full));
                }
            }
        }
        let Stage::Waiting { key, timer } = &mut this.stage else {
            return Poll::Pending;
        };
        // A slot granted before the timer fired wins over the timer.
        let timed_out = timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        let key = *key;
        let result = match this.lane.poll_wait(key, cx.waker(), timed_out) {
            Wait::Pending => return Poll::Pending,
            Wait::Admitted { since } => {
                this.lane
                    .emit_admitted(since.map_or(Duration::ZERO, |s| s.elapsed()));
                Ok(Shared::permit(&this.lane))
            }
            Wait::TimedOut => Err(reject(
                &this.lane,
                BulkheadFull::timed_out(this.lane.max_wait().unwrap_or_default(), this.lane.name()),
            )),
        };
        this.stage = Stage::Done;
        Poll::Ready(result)
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Stage::Waiting { key, .. } = self.stage {
            self.lane.abandon(key);
        }
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
        let stage = match self.stage {
            Stage::Start => "start",
            Stage::Waiting { .. } => "waiting",
            Stage::Done => "done",
        };
        f.debug_struct("Acquire").field("stage", &stage).finish()
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::super::Bulkhead;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn debug_names_the_stage() {
        let bulkhead = Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .build()
            .unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = pin!(bulkhead.acquire());
        assert_eq!(format!("{first:?}"), r#"Acquire { stage: "start" }"#);
        let Poll::Ready(Ok(permit)) = first.as_mut().poll(&mut cx) else {
            panic!("a free slot admits at once");
        };
        assert_eq!(format!("{first:?}"), r#"Acquire { stage: "done" }"#);
        let mut second = pin!(bulkhead.acquire());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert_eq!(format!("{second:?}"), r#"Acquire { stage: "waiting" }"#);
        drop(permit);
    }
}
