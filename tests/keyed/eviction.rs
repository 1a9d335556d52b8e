//! Eviction on the paused clock: least recently used first, idle keys after the timeout,
//! instances that may not be evicted yet (open breakers, limiters recovering their burst,
//! bulkheads in use), and an evicted key that comes back starting fresh.

use crate::{breaker, fail, limiter, succeed};
use bulwark::Error;
use bulwark::circuit_breaker::State;
use bulwark::keyed::{Event, Eviction, Keyed};
use bulwark::timeout::Timeout;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::advance;

/// A keyed timeout (always evictable) of `max_keys` keys that records its events.
fn timeouts(
    max_keys: usize,
    idle: Option<Duration>,
) -> (Keyed<String, Timeout>, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let builder = Keyed::builder(Timeout::new(Duration::from_secs(1)))
        .max_keys(max_keys)
        .on_event(move |e| log.lock().unwrap().push(e.clone()));
    let builder = match idle {
        Some(idle) => builder.idle_timeout(idle),
        None => builder,
    };
    (builder.build().unwrap(), seen)
}

fn evicted(seen: &Mutex<Vec<Event>>) -> Vec<(String, Eviction)> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Evicted { key, reason, .. } => Some((key.clone(), *reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_least_recently_used_key_is_evicted_first() {
    let (keyed, seen) = timeouts(3, None);
    for key in ["a", "b", "c"] {
        keyed.get(key).unwrap();
        advance(Duration::from_millis(5)).await;
    }
    // "a" is used again: "b" is now the least recently used.
    keyed.get("a").unwrap();
    advance(Duration::from_millis(5)).await;
    keyed.get("d").unwrap();
    assert!(!keyed.contains("b"));
    advance(Duration::from_millis(5)).await;
    keyed.get("e").unwrap();
    assert!(!keyed.contains("c"));
    advance(Duration::from_millis(5)).await;
    keyed.get("f").unwrap();
    assert!(!keyed.contains("a"));
    for key in ["d", "e", "f"] {
        assert!(keyed.contains(key), "{key}");
    }
    assert_eq!(
        evicted(&seen),
        [
            ("\"b\"".to_owned(), Eviction::Capacity),
            ("\"c\"".to_owned(), Eviction::Capacity),
            ("\"a\"".to_owned(), Eviction::Capacity)
        ]
    );
    let m = keyed.metrics();
    assert_eq!((m.keys, m.created, m.evicted_capacity), (3, 6, 3));
}

#[tokio::test(start_paused = true)]
async fn keys_idle_past_the_timeout_are_evicted_oldest_first() {
    let (keyed, seen) = timeouts(100, Some(Duration::from_secs(60)));
    keyed.get("old").unwrap();
    advance(Duration::from_secs(30)).await;
    keyed.get("newer").unwrap();
    advance(Duration::from_secs(31)).await;
    // "old" is idle 61 s, "newer" 31 s: only "old" goes, when a key is inserted...
    keyed.get("x").unwrap();
    assert!(!keyed.contains("old"));
    assert!(keyed.contains("newer"));
    // ...or when asked.
    advance(Duration::from_secs(30)).await;
    assert_eq!(keyed.evict_idle(), 1);
    assert!(!keyed.contains("newer"));
    assert!(keyed.contains("x"));
    assert_eq!(
        evicted(&seen),
        [
            ("\"old\"".to_owned(), Eviction::Idle),
            ("\"newer\"".to_owned(), Eviction::Idle)
        ]
    );
    assert_eq!(keyed.metrics().evicted_idle, 2);
}

#[tokio::test(start_paused = true)]
async fn a_used_key_is_not_idle() {
    let (keyed, _) = timeouts(100, Some(Duration::from_secs(60)));
    keyed.get("a").unwrap();
    for _ in 0..10 {
        advance(Duration::from_secs(50)).await;
        keyed.get("a").unwrap();
        assert_eq!(keyed.evict_idle(), 0);
    }
    assert!(keyed.contains("a"));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_not_evicted_until_its_open_duration_ends() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .max_keys(2)
        .build()
        .unwrap();
    for _ in 0..2 {
        let _ = fail(&keyed, "down").await;
    }
    assert_eq!(keyed.get("down").unwrap().state(), State::Open);
    advance(Duration::from_secs(1)).await;
    succeed(&keyed, "up").await.unwrap();
    advance(Duration::from_secs(1)).await;
    // "down" is the least recently used, but open: "up" goes instead.
    succeed(&keyed, "new").await.unwrap();
    assert!(keyed.contains("down"));
    assert!(!keyed.contains("up"));
    // Both keys open: a new key is refused rather than evicting one.
    for _ in 0..2 {
        let _ = fail(&keyed, "new").await;
    }
    advance(Duration::from_secs(1)).await;
    assert!(matches!(
        succeed(&keyed, "third").await,
        Err(Error::TooManyKeys(_))
    ));
    assert_eq!(keyed.metrics().refused, 1);
    assert!(keyed.contains("down") && keyed.contains("new"));
    // Once the first open duration has ended, "down" may go.
    advance(Duration::from_secs(27)).await;
    succeed(&keyed, "third").await.unwrap();
    assert!(!keyed.contains("down"));
    assert!(keyed.contains("new"));
}

/// A breaker forced open stays forced open: never evicted, however long it has been idle.
#[tokio::test(start_paused = true)]
async fn a_breaker_forced_open_is_never_evicted() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .max_keys(1)
        .build()
        .unwrap();
    succeed(&keyed, "pinned").await.unwrap();
    keyed.get("pinned").unwrap().force_open();
    advance(Duration::from_secs(3600)).await;
    assert!(matches!(
        succeed(&keyed, "other").await,
        Err(Error::TooManyKeys(_))
    ));
    assert_eq!(keyed.get("pinned").unwrap().state(), State::ForcedOpen);
    // Once closed by hand, it may go like any other.
    keyed.get("pinned").unwrap().reset();
    succeed(&keyed, "other").await.unwrap();
    assert!(!keyed.contains("pinned"));
}

#[tokio::test(start_paused = true)]
async fn an_evicted_key_that_comes_back_starts_fresh() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .max_keys(1)
        .build()
        .unwrap();
    let _ = fail(&keyed, "a").await; // one failure of two
    advance(Duration::from_millis(5)).await;
    succeed(&keyed, "b").await.unwrap(); // evicts "a"
    advance(Duration::from_millis(5)).await;
    // One more failure does not open it: the count started again.
    let _ = fail(&keyed, "a").await;
    assert_eq!(keyed.get("a").unwrap().state(), State::Closed);
    assert_eq!(keyed.metrics().created, 3);
}

#[tokio::test(start_paused = true)]
async fn a_limiter_is_not_evicted_until_its_burst_is_full_again() {
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_secs(10)))
        .max_keys(1)
        .build()
        .unwrap();
    keyed.get("a").unwrap().try_acquire().unwrap();
    advance(Duration::from_secs(5)).await;
    // Evicting "a" now would give it a fresh burst: its call would be admitted early.
    assert!(keyed.get("b").is_err());
    assert!(keyed.get("a").unwrap().try_acquire().is_err());
    advance(Duration::from_secs(5)).await;
    keyed.get("b").unwrap().try_acquire().unwrap();
    assert!(!keyed.contains("a"));
}

#[tokio::test(start_paused = true)]
async fn a_bulkhead_in_use_is_not_evicted() {
    use bulwark::bulkhead::Bulkhead;
    let keyed: Keyed<String, _> =
        Keyed::builder(Bulkhead::builder().max_concurrent(1).build().unwrap())
            .max_keys(1)
            .build()
            .unwrap();
    let a = keyed.get("a").unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let call = tokio::spawn(async move {
        a.run(|| async move { rx.await.map_err(|_| std::io::Error::other("gone")) })
            .await
    });
    tokio::task::yield_now().await;
    advance(Duration::from_millis(5)).await;
    assert!(keyed.get("b").is_err());
    tx.send(()).unwrap();
    call.await.unwrap().unwrap();
    assert!(keyed.get("b").is_ok());
    assert!(!keyed.contains("a"));
}

#[tokio::test(start_paused = true)]
async fn a_key_with_a_call_in_flight_is_not_evicted() {
    let (keyed, _) = timeouts(1, Some(Duration::from_secs(1)));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Looked up, not yet polled: the call holds "a".
    let mut rx = Some(rx);
    let call = keyed.run("a", move || {
        let rx = rx.take().expect("called once");
        async move { rx.await.map_err(|_| std::io::Error::other("gone")) }
    });
    advance(Duration::from_secs(5)).await;
    assert!(keyed.get("b").is_err());
    assert_eq!(keyed.evict_idle(), 0);
    tx.send(()).unwrap();
    call.await.unwrap();
    advance(Duration::from_millis(1)).await;
    keyed.get("b").unwrap();
    assert!(!keyed.contains("a"));
}

#[tokio::test(start_paused = true)]
async fn an_undecided_call_keeps_its_limiter_so_eviction_cannot_double_the_burst() {
    let keyed: Keyed<String, _> = Keyed::builder(limiter(Duration::from_secs(10)))
        .max_keys(1)
        .build()
        .unwrap();
    // "a" is full (nothing taken), and a call for it is looked up but not yet decided.
    let first = keyed.run("a", || async { Ok::<_, std::io::Error>(1) });
    advance(Duration::from_millis(5)).await;
    // "b" cannot take its place while that call holds it...
    assert!(keyed.get("b").is_err());
    // ...so the call is decided on the instance every later call of "a" shares.
    assert_eq!(first.await.unwrap(), 1);
    assert!(matches!(
        keyed
            .run("a", || async { Ok::<_, std::io::Error>(2) })
            .await,
        Err(Error::RateLimited(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_tower_call_in_flight_holds_its_key() {
    use tower::{Layer, Service, ServiceExt, service_fn};
    let (keyed, _) = timeouts(1, None);
    let mut svc = keyed
        .layer(|r: &String| r.as_str())
        .layer(service_fn(|r: String| async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, std::io::Error>(r)
        }));
    let call = svc.ready().await.unwrap().call("a".to_owned());
    advance(Duration::from_millis(5)).await;
    assert!(keyed.get("b").is_err());
    assert_eq!(call.await.unwrap(), "a");
    advance(Duration::from_millis(1)).await;
    assert!(keyed.get("b").is_ok());
}

/// A keyed pipeline's instance goes only when both its breaker and its bulkhead may: not while
/// the breaker is open, nor while a call is in its bulkhead.
#[tokio::test(start_paused = true)]
async fn a_pipeline_is_evicted_only_when_its_breaker_and_its_bulkhead_may_be() {
    use bulwark::bulkhead::Bulkhead;
    use bulwark::pipeline::Pipeline;
    let keyed: Keyed<String, _> = Keyed::builder(
        Pipeline::builder()
            .circuit_breaker(breaker(Duration::from_secs(30)))
            .bulkhead(Bulkhead::builder().max_concurrent(1).build().unwrap())
            .build()
            .unwrap(),
    )
    .max_keys(1)
    .build()
    .unwrap();
    for _ in 0..2 {
        let down = || async { Err::<(), _>(std::io::Error::other("down")) };
        let _ = keyed.run("a", down).await;
    }
    advance(Duration::from_millis(5)).await;
    // The breaker is open (its bulkhead is idle): "a" stays.
    assert!(keyed.get("b").is_err());
    advance(Duration::from_secs(30)).await;
    let b = keyed.get("b").unwrap();
    assert!(!keyed.contains("a"));
    // A call in "b"'s bulkhead (its breaker closed): "b" stays.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut rx = Some(rx);
    let call = b.run(move || {
        let rx = rx.take().expect("called once");
        async move { rx.await.map_err(|_| std::io::Error::other("gone")) }
    });
    tokio::pin!(call);
    assert!(futures::poll!(&mut call).is_pending());
    advance(Duration::from_millis(5)).await;
    assert!(keyed.get("c").is_err());
    tx.send(()).unwrap();
    call.await.unwrap();
    keyed.get("c").unwrap();
    assert!(!keyed.contains("b"));
}

#[tokio::test(start_paused = true)]
async fn a_retry_keeps_nothing_per_key_and_may_always_be_evicted() {
    use bulwark::retry::Retry;
    let keyed: Keyed<String, _> = Keyed::builder(Retry::builder().max_attempts(3).build().unwrap())
        .max_keys(1)
        .build()
        .unwrap();
    let flaky = |key: &'static str| {
        let mut tries = 0;
        keyed.run(key, move || {
            tries += 1;
            let n = tries;
            async move {
                if n < 2 {
                    Err(std::io::Error::other("flaky"))
                } else {
                    Ok(n)
                }
            }
        })
    };
    assert_eq!(flaky("a").await.unwrap(), 2);
    advance(Duration::from_millis(5)).await;
    assert_eq!(flaky("b").await.unwrap(), 2);
    assert!(!keyed.contains("a"));
    assert_eq!(keyed.metrics().evicted_capacity, 1);
}
