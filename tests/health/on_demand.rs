//! The health aggregator on demand: concurrency, timeouts, panics, criticality, tags, caching,
//! hysteresis, watch and events. All in paused tokio time.
#![cfg(feature = "health")]

use bulwark::health::{Check, Event, Health, HealthAggregator, Status, Tag};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep};

const MS_100: Duration = Duration::from_millis(100);

/// A check that counts its runs and sleeps `delay` before answering `status`.
fn counted(name: &str, runs: &Arc<AtomicUsize>, delay: Duration, status: Status) -> Check {
    let runs = runs.clone();
    Check::from_fn(name, move || {
        runs.fetch_add(1, SeqCst);
        async move {
            sleep(delay).await;
            status
        }
    })
}

/// A check that answers the statuses of `script` in turn (the last one forever).
fn scripted(name: &str, script: &'static [Status]) -> Check {
    let next = AtomicUsize::new(0);
    Check::from_fn(name, move || {
        let i = next.fetch_add(1, SeqCst).min(script.len() - 1);
        std::future::ready(script[i])
    })
}

#[tokio::test(start_paused = true)]
async fn checks_run_concurrently() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut builder = HealthAggregator::builder();
    for i in 0..10 {
        builder = builder.check(counted(&format!("c{i}"), &runs, MS_100, Status::Healthy));
    }
    let health = builder.build().unwrap();

    let start = Instant::now();
    let report = health.report().await;
    // Virtual time: ten 100 ms checks one after another would take a second.
    assert_eq!(start.elapsed(), MS_100);
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(report.checks().len(), 10);
    assert!(report.checks().iter().all(|c| c.duration() == MS_100));
    assert_eq!(runs.load(SeqCst), 10);
}

#[tokio::test(start_paused = true)]
async fn check_past_its_timeout_is_unhealthy_with_the_reason() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .check(counted("slow", &runs, Duration::from_secs(60), Status::Healthy).timeout(MS_100))
        .check(counted("fast", &runs, Duration::ZERO, Status::Healthy))
        .build()
        .unwrap();

    let start = Instant::now();
    let report = health.report().await;
    assert_eq!(start.elapsed(), MS_100);
    assert_eq!(report.status(), Status::Unhealthy);
    let slow = report.check("slow").unwrap();
    assert_eq!(slow.status(), Status::Unhealthy);
    assert_eq!(slow.message(), Some("check timed out after 100ms"));
    assert_eq!(report.check("fast").unwrap().status(), Status::Healthy);
}

#[tokio::test(start_paused = true)]
async fn default_timeout_applies_to_checks_without_their_own() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .default_timeout(Duration::from_secs(2))
        .check(counted(
            "slow",
            &runs,
            Duration::from_secs(60),
            Status::Healthy,
        ))
        .build()
        .unwrap();
    let start = Instant::now();
    let report = health.report().await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(report.status(), Status::Unhealthy);
}

#[tokio::test(start_paused = true)]
async fn panicking_check_is_unhealthy_and_the_aggregator_survives() {
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(Check::from_fn("boom", || async {
            if true {
                panic!("database handle poisoned");
            }
            Status::Healthy
        }))
        .check(Check::from_fn("ok", || async { Status::Healthy }))
        .build()
        .unwrap();

    for _ in 0..2 {
        let report = health.report().await;
        assert_eq!(report.status(), Status::Unhealthy);
        let boom = report.check("boom").unwrap();
        assert_eq!(boom.status(), Status::Unhealthy);
        assert_eq!(
            boom.message(),
            Some("check panicked: database handle poisoned")
        );
        assert_eq!(report.check("ok").unwrap().status(), Status::Healthy);
    }
}

#[tokio::test(start_paused = true)]
async fn optional_failure_degrades_and_critical_failure_fails() {
    let optional_down = HealthAggregator::builder()
        .check(Check::from_fn("db", || async { Status::Healthy }))
        .check(Check::from_fn("cache", || async { Status::Unhealthy }).optional())
        .build()
        .unwrap();
    let report = optional_down.report().await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(report.check("cache").unwrap().status(), Status::Unhealthy);

    let critical_down = HealthAggregator::builder()
        .check(Check::from_fn("db", || async { Status::Unhealthy }))
        .check(Check::from_fn("cache", || async { Status::Healthy }).optional())
        .build()
        .unwrap();
    assert_eq!(critical_down.report().await.status(), Status::Unhealthy);

    let critical_degraded = HealthAggregator::builder()
        .check(Check::from_fn("db", || async {
            Health::degraded("replica lag")
        }))
        .build()
        .unwrap();
    assert_eq!(critical_degraded.report().await.status(), Status::Degraded);
}

#[tokio::test(start_paused = true)]
async fn report_for_a_tag_runs_only_the_tagged_checks() {
    let (live, ready) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let health = HealthAggregator::builder()
        .check(counted("loop", &live, Duration::ZERO, Status::Healthy).liveness())
        .check(counted("db", &ready, Duration::ZERO, Status::Unhealthy).readiness())
        .check(counted("queue", &ready, Duration::ZERO, Status::Healthy).tag(Tag::custom("q")))
        .build()
        .unwrap();

    let report = health.report_for(Tag::Liveness).await;
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(report.checks().len(), 1);
    assert_eq!((live.load(SeqCst), ready.load(SeqCst)), (1, 0));

    let report = health.report_for(Tag::Readiness).await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(report.check("db").unwrap().name(), "db");
    assert!(report.check("loop").is_none());

    let report = health.report_for(Tag::custom("nobody")).await;
    assert_eq!(report.status(), Status::Healthy);
    assert!(report.checks().is_empty());
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_run() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(counted("db", &runs, MS_100, Status::Healthy))
        .build()
        .unwrap();

    let callers: Vec<_> = (0..50)
        .map(|_| {
            let health = health.clone();
            tokio::spawn(async move { health.report().await.status() })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), Status::Healthy);
    }
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(health.metrics().joins, 49);

    // With no cache, a caller arriving after the run completed starts a new one.
    health.report().await;
    assert_eq!(runs.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn cached_results_are_reused_until_they_expire() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .cache_for(Duration::from_secs(1))
        .check(counted("db", &runs, Duration::ZERO, Status::Healthy))
        .build()
        .unwrap();

    health.report().await;
    sleep(Duration::from_millis(999)).await;
    let report = health.report().await;
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(
        report.check("db").unwrap().age(),
        Duration::from_millis(999)
    );
    assert_eq!(health.metrics().cache_hits, 1);

    sleep(Duration::from_millis(1)).await;
    let report = health.report().await;
    assert_eq!(runs.load(SeqCst), 2);
    assert_eq!(report.check("db").unwrap().age(), Duration::ZERO);

    // `refresh` ignores the cache.
    health.refresh().await;
    assert_eq!(runs.load(SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_callers_went_away_is_joined_by_the_next_caller() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .check(counted("db", &runs, MS_100, Status::Healthy))
        .build()
        .unwrap();

    let abandoned = tokio::time::timeout(Duration::from_millis(10), health.report()).await;
    assert!(abandoned.is_err());
    let report = health.report().await;
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(runs.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn hysteresis_needs_consecutive_failures_to_fall_and_successes_to_recover() {
    use Status::{Healthy as H, Unhealthy as U};
    static SCRIPT: [Status; 9] = [H, U, U, H, U, U, U, H, H];
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(
            scripted("db", &SCRIPT)
                .failure_threshold(3)
                .success_threshold(2),
        )
        .build()
        .unwrap();

    let mut reported = Vec::new();
    for _ in 0..SCRIPT.len() {
        let report = health.report().await;
        let db = report.check("db").unwrap();
        reported.push((db.observed(), db.status()));
    }
    let expected = [
        (H, H),
        (U, H), // 1 of 3
        (U, H), // 2 of 3
        (H, H), // the count restarts
        (U, H),
        (U, H),
        (U, U), // 3 of 3: down
        (H, U), // 1 of 2
        (H, H), // 2 of 2: up
    ];
    assert_eq!(reported, expected);
}

#[tokio::test(start_paused = true)]
async fn first_result_is_taken_as_it_is() {
    static SCRIPT: [Status; 1] = [Status::Unhealthy];
    let health = HealthAggregator::builder()
        .check(scripted("db", &SCRIPT).failure_threshold(5))
        .build()
        .unwrap();
    assert_eq!(health.report().await.status(), Status::Unhealthy);
}

#[tokio::test(start_paused = true)]
async fn watch_reports_changes_of_the_overall_status() {
    use Status::{Degraded as D, Healthy as H, Unhealthy as U};
    static SCRIPT: [Status; 4] = [H, H, U, D];
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(scripted("db", &SCRIPT))
        .build()
        .unwrap();
    let mut watch = health.watch();
    // No result yet counts as failing.
    assert_eq!(*watch.borrow_and_update(), U);

    health.report().await;
    assert!(watch.has_changed().unwrap());
    assert_eq!(*watch.borrow_and_update(), H);
    health.report().await;
    assert!(
        !watch.has_changed().unwrap(),
        "same status, no notification"
    );
    health.report().await;
    assert_eq!(*watch.borrow_and_update(), U);
    health.report().await;
    assert_eq!(*watch.borrow_and_update(), D);
    assert_eq!(health.metrics().status, D);
}

#[tokio::test(start_paused = true)]
async fn listeners_see_check_and_overall_changes() {
    use Status::{Healthy as H, Unhealthy as U};
    static SCRIPT: [Status; 3] = [H, H, U];
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(scripted("db", &SCRIPT))
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    for _ in 0..3 {
        health.report().await;
    }
    let db: Arc<str> = Arc::from("db");
    let name = bulwark::Name::from("health");
    assert_eq!(
        *events.lock().unwrap(),
        [
            Event::CheckChanged {
                name,
                check: db.clone(),
                from: None,
                to: H
            },
            Event::StatusChanged {
                name,
                from: U,
                to: H
            },
            Event::CheckChanged {
                name,
                check: db,
                from: Some(H),
                to: U
            },
            Event::StatusChanged {
                name,
                from: H,
                to: U
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn messages_and_details_reach_the_report() {
    let health = HealthAggregator::builder()
        .check(Check::from_fn("db", || async {
            Health::degraded("replica lag").with_detail("lag_ms", 850u32)
        }))
        .check(Check::from_fn("io", || async {
            Err::<(), _>(std::io::Error::other("connection refused"))
        }))
        .build()
        .unwrap();
    let report = health.report().await;
    let db = report.check("db").unwrap();
    assert_eq!(db.message(), Some("replica lag"));
    assert_eq!(db.details().get("lag_ms"), Some(&850u32.into()));
    let io = report.check("io").unwrap();
    assert_eq!(
        (io.status(), io.message()),
        (Status::Unhealthy, Some("connection refused"))
    );
}

#[tokio::test(start_paused = true)]
async fn an_aggregator_with_no_checks_is_healthy() {
    let health = HealthAggregator::builder().build().unwrap();
    assert_eq!(health.report().await.status(), Status::Healthy);
    assert_eq!(*health.watch().borrow(), Status::Healthy);
}

#[test]
fn build_rejects_invalid_configuration_naming_the_field() {
    let ok = || Check::from_fn("db", || async { true });
    let err = |b: bulwark::health::HealthAggregatorBuilder| b.build().unwrap_err();

    let e = err(HealthAggregator::builder().check(ok()).check(ok()));
    assert_eq!(e.field(), "checks[\"db\"].name");
    assert_eq!(e.reason(), "is registered twice");
    let e = err(HealthAggregator::builder().check(ok().timeout(Duration::ZERO)));
    assert_eq!(e.field(), "checks[\"db\"].timeout");
    let e = err(HealthAggregator::builder().check(ok().failure_threshold(0)));
    assert_eq!(e.field(), "checks[\"db\"].failure_threshold");
    let e = err(HealthAggregator::builder().check(ok().success_threshold(0)));
    assert_eq!(e.field(), "checks[\"db\"].success_threshold");
    let e = err(HealthAggregator::builder().check(Check::from_fn("", || async { true })));
    assert_eq!(e.field(), "checks[].name");
    let e = err(HealthAggregator::builder().default_timeout(Duration::ZERO));
    assert_eq!(e.field(), "default_timeout");
    let e = err(HealthAggregator::builder().max_age(Duration::from_secs(1)));
    assert_eq!(e.field(), "max_age");
    // Background mode needs a runtime to run in.
    let e = err(HealthAggregator::builder().background(Duration::from_secs(1)));
    assert_eq!(e.field(), "background");
    assert_eq!(e.pattern(), "health");
    assert_eq!(
        e.to_string(),
        "invalid health setting `background`: needs a tokio runtime: call `build` inside one"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_breaks_neither_the_report_nor_the_other_listeners() {
    static SCRIPT: [Status; 2] = [Status::Healthy, Status::Unhealthy];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_second = seen.clone();
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(scripted("db", &SCRIPT))
        .on_event(|_| panic!("listener bug"))
        .on_event(move |e| seen_by_second.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    // The report's own future: a listener's panic must not unwind into it.
    assert_eq!(health.report().await.status(), Status::Healthy);
    assert_eq!(health.report().await.status(), Status::Unhealthy);
    let seen = seen.lock().unwrap().clone();
    let checks: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::CheckChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        checks,
        [
            (None, Status::Healthy),
            (Some(Status::Healthy), Status::Unhealthy)
        ],
        "the listener after the panicking one gets every event"
    );
    assert!(seen.contains(&Event::StatusChanged {
        name: "health".into(),
        from: Status::Healthy,
        to: Status::Unhealthy
    }));
    assert_eq!(health.metrics().runs, 2);
}

/// The case: a check that sleeps 8 s with a 5 s timeout, probed once by a caller that
/// gives up after 1 s, and read again 10 s later, when its run has had time to finish.
#[tokio::test(start_paused = true)]
async fn a_check_that_finishes_after_its_timeout_while_nobody_waits_is_timed_out() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .check(
            counted("slow", &runs, Duration::from_secs(8), Status::Healthy)
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();

    let probe = tokio::time::timeout(Duration::from_secs(1), health.report()).await;
    assert!(probe.is_err(), "the probe gives up before the check ends");
    sleep(Duration::from_secs(10)).await;

    let report = health.report().await;
    let slow = report.check("slow").unwrap();
    assert_eq!(
        runs.load(SeqCst),
        1,
        "the abandoned run was joined, not run again"
    );
    assert_eq!(slow.observed(), Status::Unhealthy);
    assert_eq!(slow.status(), Status::Unhealthy);
    assert_eq!(slow.message(), Some("check timed out after 5s"));
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(health.metrics().status, Status::Unhealthy);
}

/// The boundary of the rule above: the deadline is the run's start plus its timeout, and a
/// check that ends exactly then is on time.
#[tokio::test(start_paused = true)]
async fn a_check_that_ends_exactly_at_its_deadline_is_on_time() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .check(
            counted("on-time", &runs, Duration::from_secs(5), Status::Healthy)
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    let report = health.report().await;
    assert_eq!(report.check("on-time").unwrap().status(), Status::Healthy);
}

#[tokio::test(start_paused = true)]
async fn debug_output_names_each_check_with_the_timeout_it_runs_under() {
    let health = HealthAggregator::builder()
        .default_timeout(Duration::from_secs(3))
        .check(scripted("db", &[Status::Healthy]))
        .check(scripted("cache", &[Status::Healthy]).timeout(MS_100))
        .build()
        .unwrap();
    let text = format!("{health:?}");
    assert!(
        text.starts_with("HealthAggregator { checks: [Slot { spec: Check { name: \"db\""),
        "{text}"
    );
    assert!(text.contains("timeout: None"), "db's own: {text}");
    assert!(
        text.contains("}, timeout: 3s, .. }"),
        "db runs under the default: {text}"
    );
    assert!(
        text.contains("}, timeout: 100ms, .. }"),
        "cache under its own: {text}"
    );
}
