//! Admission: the future that takes a slot, waiting in the bounded queue if it must.

use super::semaphore::{Join, Wait};
use super::state::{Lane, Permit, Shared};
use super::{BulkheadFull, Event};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Takes a slot: at once if one is free and nobody waits, else after a FIFO wait in the bounded
/// queue, at most `max_wait`. Nothing happens until the first poll (but one made by
/// [`queue`](Self::queue) has joined already, and its caller times the `max_wait`). Dropping it
/// while it waits leaves the queue at once (handing on a slot it was granted but had not
/// collected).
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

    /// Joins the queue, if there is room, the wait counting from `since`; with `own_timer`,
    /// the `max_wait` timer is made here (else the caller times the wait).
    fn join(
        &mut self,
        since: impl FnOnce() -> Instant,
        own_timer: bool,
    ) -> Result<Option<Permit>, BulkheadFull> {
        match self.lane.join(since) {
            Join::Admitted => {
                self.lane.emit_admitted(Duration::ZERO);
                Ok(Some(Shared::permit(&self.lane)))
            }
            Join::Full => Err(reject(
                &self.lane,
                BulkheadFull::queue_full(self.lane.name()),
            )),
            Join::Queued { key, queued, since } => {
                let timer = if own_timer {
                    wait_end(&self.lane, since).map(|end| Box::pin(tokio::time::sleep_until(end)))
                } else {
                    None
                };
                self.stage = Stage::Waiting { key, timer };
                self.lane
                    .listeners
                    .emit(|name| Event::Queued { name, queued });
                Ok(None)
            }
        }
    }

    /// A call that found no free slot (the pipeline's, which took none with `try_take`) joins
    /// the queue now, its wait counting from `since` (the caller's reading of the clock). The
    /// caller times `max_wait` with its own timer: nothing is allocated.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    pub(super) fn queue(lane: Lane, since: Instant) -> Queued {
        let mut acquire = Self::new(lane);
        match acquire.join(|| since, false) {
            Ok(None) => {
                let until = wait_end(&acquire.lane, since);
                Queued::Waiting { acquire, until }
            }
            Ok(Some(permit)) => Queued::Now(Ok(permit)),
            Err(full) => Queued::Now(Err(full)),
        }
    }

    /// Polls the wait in the queue; `timed_out` once its `max_wait` is over (by its own timer,
    /// or, for a call of [`queue`](Self::queue), by its caller's). A slot granted before still
    /// wins.
    pub(crate) fn poll_queued(
        &mut self,
        cx: &mut Context<'_>,
        timed_out: bool,
    ) -> Poll<Result<Permit, BulkheadFull>> {
        let Stage::Waiting { key, .. } = self.stage else {
            return Poll::Pending;
        };
        let result = match self.lane.poll_wait(key, cx.waker(), timed_out) {
            Wait::Pending => return Poll::Pending,
            Wait::Admitted { since } => {
                self.lane
                    .emit_admitted(since.map_or(Duration::ZERO, |s| s.elapsed()));
                Ok(Shared::permit(&self.lane))
            }
            Wait::TimedOut => Err(reject(
                &self.lane,
                BulkheadFull::timed_out(self.lane.max_wait().unwrap_or_default(), self.lane.name()),
            )),
        };
        self.stage = Stage::Done;
        Poll::Ready(result)
    }
}

/// How a call given to the queue by [`Acquire::queue`] goes on.
#[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
pub(crate) enum Queued {
    /// Admitted (a slot was freed meanwhile) or turned away (the queue is full), at once.
    Now(Result<Permit, BulkheadFull>),
    /// Waiting: polled with [`Acquire::poll_queued`]; `until` is the end of its `max_wait`
    /// (`None`: no bound), which the caller times.
    Waiting {
        acquire: Acquire,
        until: Option<Instant>,
    },
}

/// The end of a wait that started at `since`, if the bulkhead has a `max_wait` (none if it
/// cannot be represented: the wait is then unbounded).
fn wait_end(lane: &Lane, since: Instant) -> Option<Instant> {
    lane.max_wait().and_then(|w| since.checked_add(w))
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
            match this.join(Instant::now, true) {
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
        // A slot granted before the timer fired wins over the timer.
        let timed_out = match &mut this.stage {
            Stage::Waiting { timer, .. } => timer
                .as_mut()
                .is_some_and(|t| t.as_mut().poll(cx).is_ready()),
            _ => return Poll::Pending,
        };
        this.poll_queued(cx, timed_out)
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

    /// A caller that times `max_wait` itself (the pipeline) joins the queue at once, its wait
    /// counting from the instant it gives; its wait ends with a slot, or when its caller says
    /// the wait is over, a slot granted before still winning; a full queue turns it away.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[tokio::test(start_paused = true)]
    async fn a_caller_timed_wait_joins_at_once_and_ends_when_told() {
        use super::super::{Event, Queued};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;
        let waits = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&waits);
        let bulkhead = Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .max_wait(Duration::from_millis(50))
            .on_event(move |e| {
                if let Event::Admitted { waited, .. } = e {
                    log.lock().unwrap().push(*waited);
                }
            })
            .build()
            .unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let since = tokio::time::Instant::now();
        // A free slot, nobody waiting: admitted at once.
        let Queued::Now(Ok(held)) = bulkhead.queue(since) else {
            panic!("a free slot admits at once");
        };
        // Full: it waits, until 50 ms after the instant given (10 ms ago).
        tokio::time::advance(Duration::from_millis(10)).await;
        let Queued::Waiting { mut acquire, until } = bulkhead.queue(since) else {
            panic!("no free slot: it waits");
        };
        assert_eq!(until, Some(since + Duration::from_millis(50)));
        assert_eq!(bulkhead.metrics().queued, 1);
        assert!(acquire.poll_queued(&mut cx, false).is_pending());
        // The queue is full: the next is turned away at once.
        match bulkhead.queue(since) {
            Queued::Now(Err(full)) => assert!(!full.is_timed_out(), "{full:?}"),
            _ => panic!("a full queue turns it away"),
        }
        // The slot freed: handed to the waiter, which takes it even when told the wait is over.
        drop(held);
        tokio::time::advance(Duration::from_millis(20)).await;
        let Poll::Ready(Ok(second)) = acquire.poll_queued(&mut cx, true) else {
            panic!("a slot granted before the wait was over wins");
        };
        assert_eq!(
            *waits.lock().unwrap(),
            [Duration::ZERO, Duration::from_millis(30)],
            "the wait counts from the instant given"
        );
        // Told the wait is over with no slot granted: turned away, out of the queue.
        let Queued::Waiting { mut acquire, .. } = bulkhead.queue(tokio::time::Instant::now())
        else {
            panic!("no free slot: it waits");
        };
        assert!(acquire.poll_queued(&mut cx, false).is_pending());
        match acquire.poll_queued(&mut cx, true) {
            Poll::Ready(Err(full)) => assert!(full.is_timed_out(), "{full:?}"),
            _ => panic!("the wait is over"),
        }
        let m = bulkhead.metrics();
        assert_eq!((m.in_flight, m.queued), (1, 0));
        assert_eq!((m.rejected_queue_full, m.rejected_timed_out), (1, 1));
        drop(second);
        // Without a max_wait the wait has no end.
        let unbounded = Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .build()
            .unwrap();
        let Queued::Now(Ok(_held)) = unbounded.queue(since) else {
            panic!("a free slot admits at once");
        };
        let Queued::Waiting { until, .. } = unbounded.queue(since) else {
            panic!("no free slot: it waits");
        };
        assert_eq!(until, None);
    }
}
