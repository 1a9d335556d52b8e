//! Zero heap allocations per call when the first attempt succeeds, through both doors.
#![cfg(feature = "retry")]

use crate::support;

use bulwark::retry::Retry;
use futures::FutureExt;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

/// Always ready, answers at once.
#[derive(Clone, Copy)]
struct Echo;

impl Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// The defaults (budget included) and a deadline: every per-call path that reads the clock.
fn retry() -> Retry {
    Retry::builder()
        .stop_retrying_after(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn layer_first_attempt_success_allocates_nothing() {
    let mut svc = retry().layer().layer(Echo);
    let per_call = support::allocations_per_call(10, 1_000, || {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(svc.poll_ready(&mut cx).is_ready());
        let out = svc.call(7).now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(7)));
    });
    assert_eq!(per_call, 0.0);
}

#[test]
fn standalone_first_attempt_success_allocates_nothing() {
    let retry = retry();
    let per_call = support::allocations_per_call(10, 1_000, || {
        let out = retry.run(|_| async { Ok::<_, ()>(7) }).now_or_never();
        assert_eq!(out, Some(Ok(7)));
    });
    assert_eq!(per_call, 0.0);
}
