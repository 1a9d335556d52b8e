//! The retry loop for callers whose attempts borrow their maker: the pipeline, whose attempt
//! calls the user's closure only once the breaker and the bulkhead have admitted it, so the
//! attempt's future must hold the closure (a `FnMut` passed to [`Retry::run`] cannot lend itself
//! to the future it returns).

use super::attempts::{Attempt, Attempts, Decision};
use super::{GiveUpReason, Retry, RetryAfter, ShouldRetry};
use crate::backoff::MakeDelays;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Makes each attempt of a call; the attempt's future may borrow the maker.
pub(crate) trait MakeAttempt<T, E> {
    fn attempt(&mut self, attempt: Attempt) -> impl Future<Output = Result<T, E>>;
}

impl<B, P, H> Retry<B, P, H> {
    /// [`Retry::run`] as an `async fn`, for makers whose attempts borrow them. The same
    /// decisions (attempts, hints, open circuits, time limit, budget, events) in the same order.
    pub(crate) async fn run_borrowing<M, T, E>(&self, mut make: M) -> Result<T, E>
    where
        B: MakeDelays,
        M: MakeAttempt<T, E>,
        P: ShouldRetry<T, E>,
        H: RetryAfter<T, E>,
    {
        let cfg = &*self.shared;
        let mut attempts = Attempts::<B::Delays>::start(cfg);
        loop {
            let outcome = make.attempt(attempts.current()).await;
            let Decision::Retry {
                delay,
                reason,
                hinted,
            } = attempts.decide(cfg, &outcome)
            else {
                return outcome;
            };
            if !attempts.commit(cfg, delay, reason, hinted) {
                return outcome;
            }
            if delay.is_zero() {
                // Yield, as `Run` does, so attempts failing at once cannot hold the thread.
                YieldOnce(false).await;
            } else {
                tokio::time::sleep(delay).await;
                if attempts.past_stop() {
                    attempts.give_up(cfg, GiveUpReason::TimeUp);
                    return outcome;
                }
            }
            attempts.next_attempt();
        }
    }
}

/// Returns `Pending` once (waking its task at once), then `Ready`.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
