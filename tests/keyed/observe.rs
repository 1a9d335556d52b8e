//! Eviction events and metrics, and the keyed breaker's health.

use crate::{breaker, fail, succeed};
use bulwark::keyed::{Event, Eviction, Keyed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::advance;

#[tokio::test(start_paused = true)]
async fn events_carry_the_name_the_key_and_the_reason() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .name("per-host")
        .max_keys(1)
        .on_event(move |e| log.lock().unwrap().push(e.clone()))
        .on_event(|_| panic!("a listener bug"))
        .build()
        .unwrap();
    succeed(&keyed, "a").await.unwrap();
    advance(Duration::from_millis(1)).await;
    succeed(&keyed, "b").await.unwrap();
    for _ in 0..2 {
        let _ = fail(&keyed, "b").await;
    }
    let refused = succeed(&keyed, "c").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "too many keys \"per-host\": all 1 in use"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(matches!(
        &seen[0],
        Event::Evicted { name, key, reason: Eviction::Capacity }
            if name.as_str() == "per-host" && key == "\"a\""
    ));
    assert!(matches!(
        &seen[1],
        Event::Refused { name, key } if name.as_str() == "per-host" && key == "\"c\""
    ));
}

#[tokio::test(start_paused = true)]
async fn the_debug_output_names_the_policy_its_template_and_its_metrics() {
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .name("per-host")
        .max_keys(2)
        .build()
        .unwrap();
    succeed(&keyed, "a").await.unwrap();
    let debug = format!("{keyed:?}");
    assert!(debug.starts_with("Keyed {"), "{debug}");
    assert!(debug.contains("per-host"), "{debug}");
    assert!(debug.contains("template: CircuitBreaker"), "{debug}");
    assert!(debug.contains("keys: 1, max_keys: 2"), "{debug}");
}

#[cfg(feature = "metrics")]
#[test]
fn every_eviction_and_refusal_is_counted_and_the_keys_are_a_gauge() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
                    .name("hosts")
                    .max_keys(2)
                    .idle_timeout(Duration::from_secs(60))
                    .build()
                    .unwrap();
                for host in ["a", "b", "c"] {
                    succeed(&keyed, host).await.unwrap();
                    advance(Duration::from_millis(1)).await;
                }
                advance(Duration::from_secs(61)).await;
                assert_eq!(keyed.evict_idle(), 2);
                succeed(&keyed, "d").await.unwrap();
                succeed(&keyed, "e").await.unwrap();
                for host in ["d", "e"] {
                    for _ in 0..2 {
                        let _ = fail(&keyed, host).await;
                    }
                }
                assert!(succeed(&keyed, "f").await.is_err());
            });
    });
    let mut found = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if !key.name().starts_with("bulwark.keyed.") {
            continue;
        }
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        assert!(labels.contains(&"name=hosts".to_owned()), "{labels:?}");
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(v) => v.into_inner(),
            other => panic!("{other:?}"),
        };
        found.insert(format!("{} {}", key.name(), labels.join(",")), value);
    }
    let get = |k: &str| {
        found
            .get(k)
            .copied()
            .unwrap_or_else(|| panic!("{k}: {found:#?}"))
    };
    // The `reason` label is the reason's `as_str`.
    let evictions = |reason: Eviction| {
        get(&format!(
            "bulwark.keyed.evictions name=hosts,reason={}",
            reason.as_str()
        ))
    };
    assert_eq!(Eviction::Capacity.as_str(), "capacity");
    assert_eq!(evictions(Eviction::Capacity), 1.0);
    assert_eq!(evictions(Eviction::Idle), 2.0);
    assert_eq!(get("bulwark.keyed.refusals name=hosts"), 1.0);
    assert_eq!(get("bulwark.keyed.keys name=hosts"), 2.0);
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn the_health_check_lists_each_open_key() {
    use bulwark::health::{Detail, HealthCheck, KeyedCircuitBreakerCheck, Status};
    let keyed: Keyed<String, _> = Keyed::builder(breaker(Duration::from_secs(30)))
        .name("hosts")
        .build()
        .unwrap();
    let check = KeyedCircuitBreakerCheck::new(keyed.clone());
    for host in ["a", "b", "c"] {
        succeed(&keyed, host).await.unwrap();
    }
    assert_eq!(check.check().await.status(), Status::Healthy);
    for host in ["a", "c"] {
        for _ in 0..2 {
            let _ = fail(&keyed, host).await;
        }
    }
    let health = check.check().await;
    assert_eq!(health.status(), Status::Degraded);
    assert_eq!(
        health.message(),
        Some("circuit \"hosts\" not closed for 2 keys")
    );
    let d = health.details();
    assert_eq!(d.get("key:a"), Some(&Detail::from("open")));
    assert_eq!(d.get("key:c"), Some(&Detail::from("open")));
    assert_eq!(d.get("key:b"), None);
    assert_eq!(d.get("open"), Some(&Detail::UInt(2)));
    assert_eq!(d.get("keys"), Some(&Detail::UInt(3)));
    let unhealthy = KeyedCircuitBreakerCheck::new(keyed.clone())
        .when_open(Status::Unhealthy)
        .max_listed(1);
    let health = unhealthy.check().await;
    assert_eq!(health.status(), Status::Unhealthy);
    assert_eq!(
        health
            .details()
            .keys()
            .filter(|k| k.starts_with("key:"))
            .count(),
        1
    );
}
