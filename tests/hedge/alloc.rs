//! Zero heap allocations per call when the first attempt answers before the delay, through
//! both doors, at once or after being pending once.

use crate::support;
use bulwark::hedge::Hedge;
use futures::FutureExt;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

#[derive(Clone)]
struct Echo;

impl Service<u32> for Echo {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        ready(Ok(req))
    }
}

fn hedge() -> Hedge {
    // The default budget: each call deposits in it.
    Hedge::builder()
        .delay(Duration::from_millis(10))
        .build()
        .unwrap()
}

#[test]
fn standalone_calls_answered_at_once_allocate_nothing() {
    let h = hedge();
    let per_call = support::allocations_per_call(10, 1_000, || {
        let out = h.run(|| async { Ok::<_, ()>(7) }).now_or_never();
        assert_eq!(out, Some(Ok(7)));
    });
    assert_eq!(per_call, 0.0);
}

#[test]
fn tower_calls_answered_at_once_allocate_nothing() {
    let h = hedge();
    let mut svc = h.layer().layer(Echo);
    let per_call = support::allocations_per_call(10, 1_000, || {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(svc.poll_ready(&mut cx).is_ready());
        let out = svc.call(7).now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(7)));
    });
    assert_eq!(per_call, 0.0);
}

/// Pending once (it wakes itself), then ready.
struct PendingOnce(bool);

impl std::future::Future for PendingOnce {
    type Output = Result<u32, ()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(Ok(7));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `future` to its end with a waker that does nothing.
fn drive<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn calls_pending_once_before_the_delay_allocate_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // Built on the runtime's paused clock, which its windows count on.
    let _clock = rt.enter();
    let h = Hedge::builder()
        .latency_percentile(0.9, Duration::from_millis(10))
        .min_samples(1)
        .build()
        .unwrap();
    // A known delay first, so the pending call arms its timer.
    rt.block_on(async {
        for _ in 0..2 {
            h.run(|| async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
            tokio::time::advance(Duration::from_millis(10)).await;
        }
    });
    assert!(h.metrics().delay.is_some());
    let per_call = support::allocations_per_call(10, 1_000, || {
        assert_eq!(drive(h.run(|| PendingOnce(false))), Ok(7));
    });
    assert_eq!(per_call, 0.0);
    assert_eq!(h.metrics().hedges, 0);
}
