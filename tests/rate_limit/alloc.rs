//! Zero heap allocations per call: admitted through both doors, and rejected standalone (the
//! tower door boxes its rejection into a `BoxError`, as every tower error is).

use crate::{limiter, support};
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

#[test]
fn standalone_calls_allocate_nothing() {
    // A generous rate: every call is admitted.
    let l = limiter(1, Duration::from_nanos(1), 1);
    let per_call = support::allocations_per_call(10, 1_000, || {
        let out = l.run(|| async { Ok::<_, ()>(7) }).now_or_never();
        assert_eq!(out, Some(Ok(7)));
    });
    assert_eq!(per_call, 0.0);
}

#[test]
fn tower_calls_allocate_nothing() {
    let l = limiter(1, Duration::from_nanos(1), 1);
    let mut svc = l.layer().layer(Echo);
    let per_call = support::allocations_per_call(10, 1_000, || {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(svc.poll_ready(&mut cx).is_ready());
        let out = svc.call(7).now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(7)));
    });
    assert_eq!(per_call, 0.0);
}

#[test]
fn rejections_allocate_nothing() {
    let l = limiter(1, Duration::from_secs(3_600), 1);
    assert!(l.try_acquire().is_ok());
    let per_call = support::allocations_per_call(10, 1_000, || {
        assert!(l.try_acquire().is_err());
        let out = l.run(|| async { Ok::<_, ()>(7) }).now_or_never();
        assert!(matches!(out, Some(Err(bulwark::Error::RateLimited(_)))));
    });
    assert_eq!(per_call, 0.0);
}
