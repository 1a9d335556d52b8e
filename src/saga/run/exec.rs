//! Small futures the engine is made of: one attempt, a join, the cancel/deadline race.

use crate::BoxError;
use crate::saga::definition::BoxFuture;
use crate::saga::error::{Cause, StepError};
use crate::timeout::Timeout;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// Runs one attempt: builds the future with `make`, bounds it by `timeout`, and turns a panic
/// (while building or polling it) into [`StepError::Panicked`].
pub(crate) async fn attempt<T>(
    make: impl FnOnce() -> BoxFuture<Result<T, BoxError>>,
    timeout: Option<Duration>,
) -> Result<T, StepError> {
    let future = match catch_unwind(AssertUnwindSafe(make)) {
        Ok(future) => CatchUnwind(future),
        Err(panic) => return Err(StepError::Panicked(panic_text(&*panic))),
    };
    let result = match timeout {
        Some(after) => match Timeout::new(after).run(future).await {
            Ok(result) => result,
            Err(elapsed) => return Err(StepError::TimedOut(elapsed)),
        },
        None => future.await,
    };
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StepError::Failed(error)),
        Err(panic) => Err(StepError::Panicked(panic)),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string payload".to_owned()
    }
}

/// Polls a boxed future, turning a panic into an error.
struct CatchUnwind<T>(BoxFuture<T>);

impl<T> Future for CatchUnwind<T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic_text(&*panic))),
        }
    }
}

/// Runs every future to completion, concurrently, and returns their outputs in order.
pub(crate) async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut all = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *out = Some(value);
                        *slot = None;
                    }
                    Poll::Pending => all = false,
                }
            }
        }
        if all { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// What stops a saga going forward from outside: the caller's cancellation and the deadline.
pub(crate) struct Interrupt {
    /// Dropped sender: cancelled. A sent `()`: detached, never cancelled.
    cancel: Option<oneshot::Receiver<()>>,
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
}

impl Interrupt {
    pub(crate) fn new(cancel: oneshot::Receiver<()>, deadline: Option<Duration>) -> Self {
        let deadline = deadline.and_then(|after| {
            let at = Instant::now().checked_add(after)?;
            Some((Box::pin(tokio::time::sleep_until(at)), after))
        });
        Self {
            cancel: Some(cancel),
            deadline,
        }
    }

    /// Runs `future` unless the saga is cancelled or its deadline passes first; then `future`
    /// is dropped and the reason returned. Checked before `future` is first polled, so no new
    /// work starts after a cancellation.
    pub(crate) async fn race<F: Future>(&mut self, future: F) -> Result<F::Output, Cause> {
        let mut future = std::pin::pin!(future);
        poll_fn(|cx| {
            if let Some(rx) = &mut self.cancel {
                match Pin::new(rx).poll(cx) {
                    Poll::Ready(Ok(())) => self.cancel = None,
                    Poll::Ready(Err(_)) => {
                        self.cancel = None;
                        return Poll::Ready(Err(Cause::Cancelled));
                    }
                    Poll::Pending => {}
                }
            }
            if let Some((sleep, after)) = &mut self.deadline
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Err(Cause::DeadlineExceeded(*after)));
            }
            future.as_mut().poll(cx).map(Ok)
        })
        .await
    }
}
