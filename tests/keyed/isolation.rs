//! One instance per key, made from the template on first use, looked up by a borrowed key.

use crate::{breaker, fail, limiter, succeed};
use bulwark::Error;
use bulwark::circuit_breaker::State;
use bulwark::keyed::Keyed;
use bulwark::rate_limit::RateLimiter;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn one_keys_breaker_opens_and_the_others_stay_closed() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    for host in ["a", "b", "c"] {
        succeed(&keyed, host).await.unwrap();
    }
    for _ in 0..2 {
        assert!(matches!(fail(&keyed, "b").await, Err(Error::Inner(_))));
    }
    assert!(matches!(
        succeed(&keyed, "b").await,
        Err(Error::CircuitOpen(_))
    ));
    succeed(&keyed, "a").await.unwrap();
    succeed(&keyed, "c").await.unwrap();
    assert_eq!(keyed.get("b").unwrap().state(), State::Open);
    assert_eq!(keyed.get("a").unwrap().state(), State::Closed);
    assert_eq!(keyed.get("c").unwrap().state(), State::Closed);
    // The template itself is never used by a key.
    assert_eq!(keyed.template().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_key_gets_its_instance_from_the_template_at_first_use() {
    let template = RateLimiter::builder()
        .rate(1, Duration::from_secs(1))
        .burst(2)
        .name("per-client")
        .build()
        .unwrap();
    let keyed: Keyed<String, _> = Keyed::builder(template).build().unwrap();
    assert_eq!(keyed.metrics().keys, 0);
    assert!(!keyed.contains("alice"));

    let alice = keyed.get("alice").unwrap();
    assert!(keyed.contains("alice"));
    assert_eq!(keyed.metrics().keys, 1);
    assert_eq!(keyed.metrics().created, 1);
    // The template's settings, fresh state: a burst of two, then the steady rate.
    let m = alice.metrics();
    assert_eq!(
        (m.burst, m.interval, m.admitted),
        (2, Duration::from_secs(1), 0)
    );
    assert!(alice.try_acquire().is_ok());
    assert!(alice.try_acquire().is_ok());
    assert!(alice.try_acquire().is_err());
    // The same instance the next time (it shares its state with the first handle).
    assert!(keyed.get("alice").unwrap().try_acquire().is_err());
    assert_eq!(keyed.metrics().created, 1);
    // A second key gets its own.
    assert!(keyed.get("bob").unwrap().try_acquire().is_ok());
    assert_eq!(keyed.metrics().created, 2);
}

#[tokio::test(start_paused = true)]
async fn a_string_keyed_map_is_looked_up_with_a_str() {
    let keyed: Keyed<String, RateLimiter> = Keyed::builder(limiter(Duration::from_secs(1)))
        .build()
        .unwrap();
    let owned = String::from("tenant-7");
    keyed.get(owned.as_str()).unwrap().try_acquire().unwrap();
    // Borrowed lookups find the key inserted from a borrowed one.
    assert!(keyed.get("tenant-7").unwrap().try_acquire().is_err());
    assert!(keyed.contains("tenant-7"));
    // Owned keys work too (`K: Borrow<K>`).
    let keyed_by_id: Keyed<u64, RateLimiter> = Keyed::builder(limiter(Duration::from_secs(1)))
        .build()
        .unwrap();
    keyed_by_id.get(&7).unwrap().try_acquire().unwrap();
    assert!(keyed_by_id.get(&7).unwrap().try_acquire().is_err());
    assert!(keyed_by_id.get(&8).unwrap().try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn every_call_level_pattern_runs_keyed_standalone() {
    use bulwark::bulkhead::Bulkhead;
    use bulwark::pipeline::Pipeline;
    use bulwark::retry::Retry;
    use bulwark::timeout::Timeout;

    let timeouts: Keyed<String, _> = Keyed::builder(Timeout::new(Duration::from_secs(1)))
        .build()
        .unwrap();
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok::<_, std::io::Error>(())
    };
    assert!(matches!(
        timeouts.run("a", slow).await,
        Err(Error::Timeout(_))
    ));

    let bulkheads: Keyed<String, _> = Keyed::builder(
        Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(0)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let held = bulkheads.get("a").unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        held.run(|| async move { rx.await.map_err(|_| std::io::Error::other("gone")) })
            .await
    });
    tokio::task::yield_now().await;
    let quick = || async { Ok::<_, std::io::Error>(()) };
    assert!(matches!(
        bulkheads.run("a", quick).await,
        Err(Error::BulkheadFull(_))
    ));
    assert!(bulkheads.run("b", quick).await.is_ok());
    tx.send(()).unwrap();
    running.await.unwrap().unwrap();

    let retries: Keyed<String, _> =
        Keyed::builder(Retry::builder().max_attempts(3).build().unwrap())
            .build()
            .unwrap();
    let mut tries = 0;
    let flaky = || {
        tries += 1;
        let n = tries;
        async move {
            if n < 3 {
                Err(std::io::Error::other("flaky"))
            } else {
                Ok(n)
            }
        }
    };
    assert_eq!(retries.run("a", flaky).await.unwrap(), 3);

    let pipelines: Keyed<String, _> = Keyed::builder(
        Pipeline::builder()
            .circuit_breaker(breaker(Duration::from_secs(30)))
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    for _ in 0..2 {
        let down = || async { Err::<(), _>(std::io::Error::other("down")) };
        let _ = pipelines.run("a", down).await;
    }
    assert!(matches!(
        pipelines.run("a", quick).await,
        Err(Error::CircuitOpen(_))
    ));
    assert!(pipelines.run("b", quick).await.is_ok());
    let a = pipelines.get("a").unwrap();
    assert_eq!(a.circuit_breaker().unwrap().state(), State::Open);
}

#[test]
fn invalid_settings_are_refused_by_build() {
    let err = Keyed::<String, _>::builder(limiter(Duration::from_secs(1)))
        .max_keys(0)
        .build()
        .unwrap_err();
    assert_eq!((err.pattern(), err.field()), ("keyed", "max_keys"));
    let err = Keyed::<String, _>::builder(limiter(Duration::from_secs(1)))
        .idle_timeout(Duration::from_micros(10))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "idle_timeout");
}

#[tokio::test(start_paused = true)]
async fn keyed_calls_can_be_spawned() {
    fn is_send<T: Send + 'static>(_: &T) {}
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .build()
        .unwrap();
    let k = keyed.clone();
    let call = async move { k.run("a", || async { Ok::<_, std::io::Error>(1) }).await };
    is_send(&call);
    assert_eq!(tokio::spawn(call).await.unwrap().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_bulkhead_gives_each_key_the_templates_listeners_and_its_own_adaptive_limit() {
    use bulwark::bulkhead::{Aimd, Bulkhead, Event};
    use std::sync::{Arc, Mutex};
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&changes);
    let template = Bulkhead::builder()
        .name("carriers")
        .adaptive(
            Aimd::builder()
                .initial_limit(10)
                .min_limit(1)
                .max_limit(50)
                .build()
                .unwrap(),
        )
        .on_event(move |e| {
            if let Event::LimitChanged { from, to, .. } = e {
                seen.lock().unwrap().push((*from, *to));
            }
        })
        .build()
        .unwrap();
    let keyed: Keyed<String, _> = Keyed::builder(template).build().unwrap();
    for _ in 0..10 {
        let _ = keyed
            .run("ups", || async {
                Err::<(), _>(std::io::Error::other("down"))
            })
            .await;
    }
    let ups = keyed.get("ups").unwrap().metrics().max_concurrent;
    assert!(ups < 10, "ups's limit came down: {ups}");
    let heard = changes.lock().unwrap().clone();
    assert_eq!(
        (heard.first().map(|c| c.0), heard.last().map(|c| c.1)),
        (Some(10), Some(ups)),
        "the template's listener heard the key's instance: {heard:?}"
    );
    let dhl = keyed.get("dhl").unwrap().metrics();
    assert_eq!(
        dhl.max_concurrent, 10,
        "a new key starts at the initial limit"
    );
    assert!(dhl.adaptive.is_some(), "and is adaptive too");
}
