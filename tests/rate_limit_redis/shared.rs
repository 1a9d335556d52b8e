//! Decisions in Redis, shared by every handle on the same key.

use crate::server::{Prefix, reachable, url};
use bulwark::Error;
use bulwark::rate_limit::{RateLimited, RateLimiter, RedisStore};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

fn limiter(prefix: &Prefix, name: &str, n: u64, per: Duration, burst: u64) -> RateLimiter {
    limiter_waiting(prefix, name, n, per, burst, Duration::ZERO)
}

fn limiter_waiting(
    prefix: &Prefix,
    name: &str,
    n: u64,
    per: Duration,
    burst: u64,
    max_wait: Duration,
) -> RateLimiter {
    let store = RedisStore::builder(url())
        .key_prefix(prefix.as_str())
        .name(name)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("store");
    RateLimiter::builder()
        .rate(n, per)
        .burst(burst)
        .max_wait(max_wait)
        .redis(store)
        .build()
        .expect("limiter")
}

async fn call(l: &RateLimiter) -> Result<(), Error<()>> {
    l.run(|| async { Ok::<_, ()>(()) }).await
}

#[tokio::test]
async fn a_burst_then_rejections_with_retry_after() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("burst");
    let l = limiter(&prefix, "a", 1, Duration::from_secs(60), 3);
    for _ in 0..3 {
        call(&l).await.expect("admitted");
    }
    let Err(Error::RateLimited(limited)) = call(&l).await else {
        panic!("expected a rejection");
    };
    assert!(!limited.is_unavailable());
    // The next turn is a minute after the first call, less the time these calls took.
    assert!(limited.retry_after() > Duration::from_secs(50));
    assert!(limited.retry_after() <= Duration::from_secs(60));
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.unavailable), (3, 1, 0));
    assert_eq!(prefix.keys(), 1);
}

#[tokio::test]
async fn handles_on_the_same_key_share_one_limit_and_other_names_do_not() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("shared");
    // Separate handles, separate connections: as separate processes would be.
    let a = limiter(&prefix, "orders", 1, Duration::from_secs(60), 4);
    let b = limiter(&prefix, "orders", 1, Duration::from_secs(60), 4);
    let other = limiter(&prefix, "payments", 1, Duration::from_secs(60), 4);
    let mut admitted = 0;
    for i in 0..10 {
        let l = if i % 2 == 0 { &a } else { &b };
        if call(l).await.is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 4);
    for _ in 0..4 {
        call(&other).await.expect("a limit of its own");
    }
    assert_eq!(prefix.keys(), 2);
}

#[tokio::test]
async fn concurrent_calls_from_many_tasks_take_exactly_the_burst() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("concurrent");
    let l = limiter(&prefix, "x", 1, Duration::from_secs(60), 25);
    let calls = (0..200).map(|_| {
        let l = l.clone();
        tokio::spawn(async move { call(&l).await.is_ok() })
    });
    let results = futures::future::join_all(calls).await;
    let admitted = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(admitted, 25);
}

#[tokio::test]
async fn a_call_within_max_wait_waits_for_its_turn() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("wait");
    // 20 per second, burst 1, up to 1 s of wait: five calls in a row all get in.
    let l = limiter_waiting(
        &prefix,
        "w",
        20,
        Duration::from_secs(1),
        1,
        Duration::from_secs(1),
    );
    let calls = (0..5).map(|_| call(&l));
    for out in futures::future::join_all(calls).await {
        out.expect("admitted after its turn");
    }
    let m = l.metrics();
    assert_eq!(m.admitted, 5);
    assert!(m.waited >= 3, "{m:?}");
}

#[tokio::test]
async fn the_tower_door_asks_redis_in_the_response_future() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("tower");
    let l = limiter(&prefix, "t", 1, Duration::from_secs(60), 1);
    let mut svc = l
        .layer()
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
    let err = svc.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(err.is::<RateLimited>());
}

#[tokio::test]
async fn the_key_expires_once_its_limit_is_full_again() {
    if !reachable() {
        return;
    }
    let prefix = Prefix::new("expiry");
    let l = limiter(&prefix, "e", 2, Duration::from_secs(1), 1);
    call(&l).await.expect("admitted");
    // A 500 ms interval: the key lives about that long after the call.
    assert_eq!(prefix.keys(), 1);
    // Poll until it is gone (bounded: 5 s).
    for _ in 0..100 {
        if prefix.keys() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the key did not expire");
}

/// A limiter in Redis cannot be keyed: every key's instance would share its one Redis key. The
/// keyed policy's `build()` says so (no server needed: the store connects lazily).
#[cfg(feature = "keyed")]
#[tokio::test]
async fn a_limiter_in_redis_cannot_be_keyed() {
    use bulwark::keyed::Keyed;
    let store = RedisStore::builder(url()).build().expect("store");
    let limiter = RateLimiter::builder().redis(store).build().unwrap();
    let Err(e) = Keyed::<String, _>::builder(limiter).build() else {
        panic!("a limiter in Redis was keyed");
    };
    assert_eq!(e.field(), "template");
    assert!(e.reason().contains("cannot be keyed"), "{e}");
}
