//! Zero heap allocations per call for a key already held, through both doors.

use crate::{breaker, limiter, support};
use bulwark::keyed::Keyed;
use futures::FutureExt;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

#[derive(Clone)]
struct Echo;

impl Service<(String, u32)> for Echo {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: (String, u32)) -> Self::Future {
        ready(Ok(req.1))
    }
}

/// Drives `svc` once with a request for `key` (its `String` built before counting starts is
/// moved in: the request is the caller's, not the layer's).
fn tower_calls<S>(mut svc: S, keys: &[&str]) -> f64
where
    S: Service<(String, u32), Response = u32>,
    S::Error: std::fmt::Debug,
{
    let mut requests: Vec<(String, u32)> = (0..2_000)
        .map(|i| (keys[i % keys.len()].to_owned(), i as u32))
        .collect();
    requests.reverse();
    support::allocations_per_call(10, 1_000, || {
        let req = requests.pop().expect("enough requests");
        let n = req.1;
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(svc.poll_ready(&mut cx).is_ready());
        let out = svc.call(req).now_or_never();
        assert_eq!(out.map(Result::ok), Some(Some(n)));
    })
}

#[test]
fn a_held_keys_rate_limited_calls_allocate_nothing() {
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_nanos(1)))
        .build()
        .unwrap();
    let keys = ["a", "b", "c"];
    for k in keys {
        keyed.get(k).unwrap();
    }
    let per_call = support::allocations_per_call(10, 1_000, || {
        for k in keys {
            let out = keyed.run(k, || async { Ok::<_, ()>(7) }).now_or_never();
            assert_eq!(out, Some(Ok(7)));
        }
    });
    assert_eq!(per_call, 0.0);
    let svc = keyed.layer(|r: &(String, u32)| r.0.as_str()).layer(Echo);
    assert_eq!(tower_calls(svc, &keys), 0.0);
}

#[test]
fn a_held_keys_breaker_calls_allocate_nothing() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let keys = ["a", "b", "c"];
    let per_call = support::allocations_per_call(10, 1_000, || {
        for k in keys {
            let out = keyed.run(k, || async { Ok::<_, ()>(7) }).now_or_never();
            assert_eq!(out, Some(Ok(7)));
        }
    });
    assert_eq!(per_call, 0.0);
    let svc = keyed.layer(|r: &(String, u32)| r.0.as_str()).layer(Echo);
    assert_eq!(tower_calls(svc, &keys), 0.0);
}

#[test]
fn a_held_keys_calls_allocate_nothing_for_the_other_patterns() {
    use bulwark::bulkhead::Bulkhead;
    use bulwark::timeout::Timeout;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let keys = ["a", "b"];
    let bulkheads: Keyed<String, _> = Keyed::builder(Bulkhead::builder().build().unwrap())
        .build()
        .unwrap();
    let svc = bulkheads
        .layer(|r: &(String, u32)| r.0.as_str())
        .layer(Echo);
    assert_eq!(tower_calls(svc, &keys), 0.0);
    let timeouts: Keyed<String, _> = Keyed::builder(Timeout::new(Duration::from_secs(1)))
        .build()
        .unwrap();
    let svc = timeouts.layer(|r: &(String, u32)| r.0.as_str()).layer(Echo);
    assert_eq!(tower_calls(svc, &keys), 0.0);
}

#[test]
fn a_copy_key_computed_from_the_request_allocates_nothing() {
    let keyed: Keyed<u32, _> = Keyed::builder(limiter(Duration::from_nanos(1)))
        .build()
        .unwrap();
    // The tenant id is the request's number modulo 4 (computed, owned, `Copy`).
    let svc = keyed.layer_owned(|r: &(String, u32)| r.1 % 4).layer(Echo);
    assert_eq!(tower_calls(svc, &["x"]), 0.0);
    assert_eq!(keyed.metrics().keys, 4);
}
