//! Zero heap allocations per call when nothing is replaced, and when a value is.

use crate::support;
use bulwark::Error;
use bulwark::fallback::{Fallback, Reason};
use futures::FutureExt;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
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
fn calls_through_a_fallback_allocate_nothing() {
    let fallback = Fallback::builder(|_: Reason| 0u32).build().unwrap();
    let per_call = support::allocations_per_call(10, 1_000, || {
        let out = fallback
            .run(|| async { Ok::<u32, Error<()>>(7) })
            .now_or_never();
        assert_eq!(out, Some(Ok(7)));
    });
    assert_eq!(per_call, 0.0, "standalone");
    let mut svc = fallback.layer().layer(Echo);
    let per_call = support::allocations_per_call(10, 1_000, || {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(svc.poll_ready(&mut cx).is_ready());
        let out = svc.call(7).now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(7)));
    });
    assert_eq!(per_call, 0.0, "tower");
}
