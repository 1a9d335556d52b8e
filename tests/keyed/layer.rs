//! The tower door: the key read from the request, the service made ready is the one called
//! (tower-test mock and a service that checks it), rejections inside the response future, a
//! panicking key function.

use crate::{breaker, limiter};
use bulwark::circuit_breaker::CircuitOpen;
use bulwark::keyed::{Keyed, NoKey, TooManyKeys};
use bulwark::rate_limit::RateLimited;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_test::mock;

#[derive(Clone, Debug, PartialEq)]
struct Req {
    client: String,
    n: u32,
}

fn req(client: &str, n: u32) -> Req {
    Req {
        client: client.to_owned(),
        n,
    }
}

#[tokio::test(start_paused = true)]
async fn one_client_is_limited_while_the_others_pass() {
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_secs(1)))
        .build()
        .unwrap();
    let (mut svc, mut handle) =
        mock::spawn_layer::<Req, u32, _>(keyed.layer(|r: &Req| r.client.as_str()));
    handle.allow(100);

    assert!(svc.poll_ready().is_ready());
    let first = svc.call(req("alice", 1));
    let (r, respond) = handle.next_request().await.unwrap();
    assert_eq!(r, req("alice", 1));
    respond.send_response(1);
    assert_eq!(first.await.unwrap(), 1);

    // Alice's second call fails in its future, never reaching the inner service.
    assert!(svc.poll_ready().is_ready());
    let err = svc.call(req("alice", 2)).await.unwrap_err();
    assert!(err.is::<RateLimited>(), "{err}");
    assert!(handle.poll_request().is_pending());

    // Bob has his own limit.
    assert!(svc.poll_ready().is_ready());
    let bob = svc.call(req("bob", 3));
    let (r, respond) = handle.next_request().await.unwrap();
    assert_eq!(r.client, "bob");
    respond.send_response(3);
    assert_eq!(bob.await.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_the_inner_services() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let (mut svc, mut handle) =
        mock::spawn_layer::<Req, u32, _>(keyed.layer(|r: &Req| r.client.as_str()));
    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    handle.allow(1);
    assert!(svc.poll_ready().is_ready());
    // Readiness made no instance: the key is not known yet.
    assert_eq!(keyed.metrics().keys, 0);
    let call = svc.call(req("a", 1));
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response(1);
    assert_eq!(call.await.unwrap(), 1);
    assert_eq!(keyed.metrics().keys, 1);
}

#[tokio::test(start_paused = true)]
async fn an_open_keys_calls_fail_in_their_future_and_other_keys_reach_the_inner_service() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let (mut svc, mut handle) =
        mock::spawn_layer::<Req, u32, _>(keyed.layer(|r: &Req| r.client.as_str()));
    handle.allow(100);
    for n in 0..2 {
        assert!(svc.poll_ready().is_ready());
        let call = svc.call(req("down", n));
        let (_, respond) = handle.next_request().await.unwrap();
        respond.send_error(std::io::Error::other("refused"));
        assert!(call.await.is_err());
    }
    assert!(svc.poll_ready().is_ready());
    let err = svc.call(req("down", 3)).await.unwrap_err();
    assert!(err.is::<CircuitOpen>(), "{err}");
    assert!(handle.poll_request().is_pending());
    assert!(svc.poll_ready().is_ready());
    let up = svc.call(req("up", 4));
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response(4);
    assert_eq!(up.await.unwrap(), 4);
}

/// A service whose clones are not ready until their own `poll_ready`: calling a clone that was
/// not made ready fails.
#[derive(Debug)]
struct Strict {
    ready: bool,
}

impl Clone for Strict {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl Service<Req> for Strict {
    type Response = u32;
    type Error = BoxError;
    type Future = Ready<Result<u32, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let was_ready = std::mem::replace(&mut self.ready, false);
        ready(if was_ready {
            Ok(req.n)
        } else {
            Err("called without poll_ready".into())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_service_made_ready_is_the_one_called_for_every_pattern() {
    use bulwark::bulkhead::Bulkhead;
    use bulwark::pipeline::Pipeline;
    use bulwark::retry::Retry;
    use bulwark::timeout::Timeout;

    async fn check<P>(keyed: Keyed<String, P>)
    where
        P: bulwark::keyed::ServicePolicy<Strict, Req> + std::fmt::Debug,
    {
        let mut svc = keyed
            .layer(|r: &Req| r.client.as_str())
            .layer(Strict { ready: false });
        for n in 0..20 {
            let client = ["a", "b", "c"][n as usize % 3];
            let out = svc.ready().await.unwrap().call(req(client, n)).await;
            assert_eq!(out.unwrap(), n, "{keyed:?}");
        }
    }
    check(
        Keyed::builder(breaker(Duration::from_secs(30)))
            .build()
            .unwrap(),
    )
    .await;
    let roomy = bulwark::rate_limit::RateLimiter::builder()
        .rate(100, Duration::from_secs(1))
        .burst(100)
        .build()
        .unwrap();
    check(Keyed::builder(roomy).build().unwrap()).await;
    check(
        Keyed::builder(Bulkhead::builder().build().unwrap())
            .build()
            .unwrap(),
    )
    .await;
    check(
        Keyed::builder(Timeout::new(Duration::from_secs(1)))
            .build()
            .unwrap(),
    )
    .await;
    check(
        Keyed::builder(Retry::builder().build().unwrap())
            .build()
            .unwrap(),
    )
    .await;
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker(Duration::from_secs(30)))
        .retry(Retry::builder().build().unwrap())
        .build()
        .unwrap();
    check(Keyed::builder(pipeline).build().unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_key_function_fails_that_call_and_the_service_carries_on() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let mut svc = keyed
        .layer(|r: &Req| {
            assert!(r.client != "bad", "no key for this request");
            r.client.as_str()
        })
        .layer(Strict { ready: false });
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(req("bad", 1))
        .await
        .unwrap_err();
    assert!(err.is::<NoKey>(), "{err}");
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(req("good", 2))
            .await
            .unwrap(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_key_without_room_fails_in_its_future() {
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_secs(10)))
        .max_keys(1)
        .build()
        .unwrap();
    let mut svc = keyed
        .layer(|r: &Req| r.client.as_str())
        .layer(Strict { ready: false });
    assert_eq!(
        svc.ready().await.unwrap().call(req("a", 1)).await.unwrap(),
        1
    );
    // "a" is still recovering its burst: it may not be evicted for "b".
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(req("b", 2))
        .await
        .unwrap_err();
    let full = err.downcast_ref::<TooManyKeys>().expect("too many keys");
    assert_eq!(full.max_keys(), 1);
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        svc.ready().await.unwrap().call(req("b", 3)).await.unwrap(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn an_owned_key_computed_from_the_request_works_as_a_borrowed_one() {
    // The key is the client's name lower-cased: "ALICE" and "alice" share one limit.
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_secs(1)))
        .build()
        .unwrap();
    let mut svc = keyed
        .layer_owned(|r: &Req| r.client.to_lowercase())
        .layer(Strict { ready: false });
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(req("ALICE", 1))
            .await
            .unwrap(),
        1
    );
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(req("alice", 2))
        .await
        .unwrap_err();
    assert!(err.is::<RateLimited>(), "{err}");
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(req("Bob", 3))
            .await
            .unwrap(),
        3
    );
    assert!(keyed.contains("alice") && keyed.contains("bob"));
    // A panicking key function fails that call only.
    let mut svc = keyed
        .layer_owned(|r: &Req| -> String { panic!("no key for {}", r.n) })
        .layer(Strict { ready: false });
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(req("carol", 4))
        .await
        .unwrap_err();
    assert!(err.is::<NoKey>(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn keyed_services_compose_under_tower_buffer_and_concurrency_limit() {
    use tower::ServiceBuilder;
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .buffer(16)
        .concurrency_limit(4)
        .layer(keyed.layer(|r: &Req| r.client.as_str()))
        .service(Strict { ready: false });
    let calls: Vec<_> = (0..32u32)
        .map(|n| {
            let mut svc = svc.clone();
            tokio::spawn(async move {
                let client = ["a", "b", "c", "d"][n as usize % 4];
                svc.ready().await?.call(req(client, n)).await
            })
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), n as u32);
    }
    assert_eq!(keyed.metrics().keys, 4);
}
