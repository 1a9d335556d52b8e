//! The policies when Redis is away: a closed port (connection refused at once) and a server
//! that accepts connections and never answers (the round-trip timeout).

use bulwark::Error;
use bulwark::rate_limit::{Event, OnUnavailable, RateLimiter, RedisStore};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A local port with nothing listening on it.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

fn limiter(
    url: &str,
    policy: OnUnavailable,
    events: Option<Arc<Mutex<Vec<Event>>>>,
) -> RateLimiter {
    let store = RedisStore::builder(url)
        .timeout(Duration::from_millis(200))
        .on_unavailable(policy)
        .build()
        .expect("store");
    let mut b = RateLimiter::builder()
        .rate(10, Duration::from_secs(60))
        .burst(4)
        .redis(store);
    if let Some(events) = events {
        b = b.on_event(move |e| events.lock().unwrap().push(e.clone()));
    }
    b.build().expect("limiter")
}

async fn call(l: &RateLimiter) -> Result<(), Error<()>> {
    l.run(|| async { Ok::<_, ()>(()) }).await
}

#[tokio::test]
async fn fail_closed_is_the_default_and_turns_calls_away_saying_why() {
    let url = closed_port();
    let events = Arc::new(Mutex::new(Vec::new()));
    let store = RedisStore::builder(&url).build().expect("store");
    let l = RateLimiter::builder()
        .redis(store)
        .on_event({
            let events = events.clone();
            move |e| events.lock().unwrap().push(e.clone())
        })
        .build()
        .unwrap();
    let Err(Error::RateLimited(limited)) = call(&l).await else {
        panic!("expected a rejection");
    };
    assert!(limited.is_unavailable());
    assert_eq!(
        limited.to_string(),
        "rate limited: the limit's store is unavailable"
    );
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.unavailable), (0, 1, 1));
    let events = events.lock().unwrap();
    assert!(
        matches!(
            events.first(),
            Some(Event::StoreUnavailable {
                policy: OnUnavailable::FailClosed,
                ..
            })
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn fail_open_admits_every_call() {
    let l = limiter(&closed_port(), OnUnavailable::FailOpen, None);
    for _ in 0..20 {
        call(&l).await.expect("admitted");
    }
    let m = l.metrics();
    assert_eq!((m.admitted, m.unavailable), (20, 20));
}

#[tokio::test]
async fn local_takes_its_share_of_the_limit() {
    // 10 per minute, burst 4, shared by 2 replicas: 5 per minute and a burst of 2 here.
    let l = limiter(&closed_port(), OnUnavailable::Local { replicas: 2 }, None);
    let mut admitted = 0;
    for _ in 0..10 {
        match call(&l).await {
            Ok(()) => admitted += 1,
            Err(Error::RateLimited(limited)) => {
                assert!(!limited.is_unavailable());
                assert!(limited.retry_after() > Duration::from_secs(10));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(admitted, 2);
}

#[tokio::test]
async fn a_server_that_never_answers_is_timed_out() {
    // Accepts connections, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let l = limiter(&url, OnUnavailable::FailOpen, Some(events.clone()));
    call(&l).await.expect("fail open");
    assert_eq!(l.metrics().unavailable, 1);
    assert!(matches!(
        events.lock().unwrap().first(),
        Some(Event::StoreUnavailable { .. })
    ));
    server.abort();
}

#[test]
fn a_store_is_checked_when_built() {
    let field = |r: Result<RedisStore, bulwark::ConfigError>| r.unwrap_err().field().to_owned();
    // Outside a runtime: an error, not a panic.
    assert_eq!(
        field(RedisStore::builder("redis://127.0.0.1:6379").build()),
        "redis"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    assert_eq!(field(RedisStore::builder("not a url").build()), "redis");
    assert_eq!(
        field(
            RedisStore::builder("redis://127.0.0.1:6379")
                .timeout(Duration::ZERO)
                .build()
        ),
        "timeout"
    );
    assert_eq!(
        field(
            RedisStore::builder("redis://127.0.0.1:6379")
                .on_unavailable(OnUnavailable::Local { replicas: 0 })
                .build()
        ),
        "on_unavailable"
    );
}

/// A TCP proxy to the real server that can be cut (every connection closed, new ones refused)
/// and restored.
struct Proxy {
    url: String,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (up2, links2) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                links2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self {
            url,
            up,
            links,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test]
async fn the_shared_limit_is_used_again_once_redis_is_back() {
    if !crate::server::reachable() {
        return;
    }
    let prefix = crate::server::Prefix::new("reconnect");
    let target = crate::server::url()
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(target).await;
    let store = RedisStore::builder(&proxy.url)
        .key_prefix(prefix.as_str())
        .timeout(Duration::from_millis(200))
        .build()
        .expect("store");
    let l = RateLimiter::builder()
        .rate(1, Duration::from_secs(60))
        .burst(2)
        .redis(store)
        .build()
        .unwrap();
    call(&l)
        .await
        .expect("the first of the burst, through Redis");

    proxy.cut();
    match call(&l).await {
        Err(Error::RateLimited(limited)) => assert!(limited.is_unavailable()),
        other => panic!("expected fail closed, got {other:?}"),
    }

    proxy.restore();
    // The connection comes back on a later call (bounded: 5 s).
    let mut outcome = call(&l).await;
    for _ in 0..50 {
        match &outcome {
            Err(Error::RateLimited(limited)) if limited.is_unavailable() => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                outcome = call(&l).await;
            }
            _ => break,
        }
    }
    outcome.expect("the second of the burst, through Redis again");
    // The state in Redis outlived the outage: the burst of 2 is spent.
    match call(&l).await {
        Err(Error::RateLimited(limited)) => assert!(!limited.is_unavailable()),
        other => panic!("expected the limit, got {other:?}"),
    }
}

#[tokio::test]
async fn local_lets_a_call_wait_for_its_turn_within_max_wait() {
    // The local share decides with the limiter's `max_wait`: one call a minute, and a second
    // that may wait two minutes waits for its turn (dropped, it is cancelled).
    let store = RedisStore::builder(closed_port())
        .timeout(Duration::from_millis(200))
        .on_unavailable(OnUnavailable::Local { replicas: 1 })
        .build()
        .expect("store");
    let l = RateLimiter::builder()
        .rate(1, Duration::from_secs(60))
        .max_wait(Duration::from_secs(120))
        .redis(store)
        .build()
        .unwrap();
    call(&l).await.expect("the burst of 1");
    let mut second = Box::pin(l.run(|| async { Ok::<_, ()>(()) }));
    // Poll until Redis has been found away and the local share has decided (bounded: 5 s).
    for _ in 0..500 {
        if let std::task::Poll::Ready(out) = futures::poll!(second.as_mut()) {
            panic!("the second call did not wait for its turn: {out:?}");
        }
        if !format!("{second:?}").contains("\"asking\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(format!("{second:?}").contains("\"waiting\""), "{second:?}");
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.unavailable), (1, 0, 2));
    drop(second);
    assert_eq!(l.metrics().cancelled, 1);
}

#[tokio::test]
async fn try_acquire_on_a_limiter_in_redis_is_turned_away_as_unavailable() {
    // No decision without a round trip: whatever the limit, and with no server asked.
    let store = RedisStore::builder(closed_port()).build().expect("store");
    let l = RateLimiter::builder()
        .rate(1_000, Duration::from_secs(1))
        .burst(100)
        .redis(store)
        .build()
        .unwrap();
    let limited = l.try_acquire().unwrap_err();
    assert!(limited.is_unavailable());
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.unavailable), (0, 1, 0));
}

#[tokio::test]
async fn a_stores_key_is_its_prefix_then_its_name() {
    let store = RedisStore::builder("redis://127.0.0.1:6379")
        .build()
        .expect("store");
    assert_eq!(store.key(), "bulwark:rate_limit:default");
    let store = RedisStore::builder("redis://127.0.0.1:6379")
        .key_prefix("orders:rate:")
        .name("checkout")
        .timeout(Duration::from_millis(20))
        .on_unavailable(OnUnavailable::Local { replicas: 3 })
        .build()
        .expect("store");
    assert_eq!(store.key(), "orders:rate:checkout");
    assert_eq!(
        format!("{store:?}"),
        "RedisStore { key: \"orders:rate:checkout\", timeout: 20ms, \
         on_unavailable: Local { replicas: 3 } }"
    );
}

#[test]
fn each_policy_has_the_name_its_tracing_field_shows() {
    let names = [
        OnUnavailable::FailClosed,
        OnUnavailable::FailOpen,
        OnUnavailable::Local { replicas: 2 },
    ]
    .map(|p| p.as_str());
    assert_eq!(names, ["fail_closed", "fail_open", "local"]);
}
