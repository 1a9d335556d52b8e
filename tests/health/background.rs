//! The health aggregator in background mode: refresh at an interval, expiry of stale results, and
//! the task's end when the aggregator is dropped. All in paused tokio time.
#![cfg(feature = "health")]

use bulwark::health::{Check, HealthAggregator, Status};
use futures::FutureExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;
use tokio::time::sleep;

const INTERVAL: Duration = Duration::from_secs(10);

fn counted(runs: &Arc<AtomicUsize>) -> Check {
    let runs = runs.clone();
    Check::from_fn("db", move || {
        runs.fetch_add(1, SeqCst);
        async { Status::Healthy }
    })
}

#[tokio::test(start_paused = true)]
async fn background_runs_checks_at_the_interval_and_reports_only_read() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .check(counted(&runs))
        .build()
        .unwrap();

    // The first report waits for the first run, which the background task shares.
    assert_eq!(health.report().await.status(), Status::Healthy);
    sleep(Duration::from_millis(1)).await;
    assert_eq!(runs.load(SeqCst), 1);

    for _ in 0..5 {
        health.report().await;
    }
    assert_eq!(runs.load(SeqCst), 1, "reports read the latest result");

    sleep(INTERVAL).await;
    assert_eq!(runs.load(SeqCst), 2);
    sleep(INTERVAL * 3).await;
    assert_eq!(runs.load(SeqCst), 5);
    assert!(health.report().await.check("db").unwrap().age() < INTERVAL);
}

#[tokio::test(start_paused = true)]
async fn stale_background_result_is_never_reported_healthy() {
    let runs = Arc::new(AtomicUsize::new(0));
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .max_age(Duration::from_secs(12))
        .check(counted(&runs).timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    assert_eq!(health.report().await.status(), Status::Healthy);

    // Time passes without the background task getting a turn, as on a starved runtime: advance
    // the clock and stop at once, before yielding to the scheduler.
    assert!(
        tokio::time::advance(Duration::from_secs(13))
            .now_or_never()
            .is_none()
    );
    let report = health
        .report()
        .now_or_never()
        .expect("reads the latest result");
    let db = report.check("db").unwrap();
    assert_eq!(report.status(), Status::Unhealthy);
    assert!(db.is_stale());
    assert_eq!(
        (db.observed(), db.status()),
        (Status::Healthy, Status::Unhealthy)
    );
    assert_eq!(db.age(), Duration::from_secs(13));
    assert!(db.message().unwrap().starts_with("stale"));

    // Once the task runs again, the fresh result is reported.
    sleep(Duration::from_millis(1)).await;
    let report = health.report().await;
    assert_eq!(report.status(), Status::Healthy);
    assert!(!report.check("db").unwrap().is_stale());
}

#[tokio::test(start_paused = true)]
async fn background_task_ends_when_the_last_handle_is_dropped() {
    let token = Arc::new(());
    let held = token.clone();
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .check(Check::from_fn("db", move || {
            let _held = &held;
            async { true }
        }))
        .build()
        .unwrap();
    let mut watch = health.watch();
    let clone = health.clone();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(*watch.borrow_and_update(), Status::Healthy);

    drop(health);
    sleep(INTERVAL * 2).await;
    assert_eq!(
        Arc::strong_count(&token),
        2,
        "a clone keeps the task running"
    );

    drop(clone);
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the checks were dropped with the task"
    );
    assert!(watch.changed().await.is_err(), "the aggregator is gone");
}

#[tokio::test(start_paused = true)]
async fn max_age_shorter_than_interval_plus_timeout_is_rejected() {
    let runs = Arc::new(AtomicUsize::new(0));
    let err = HealthAggregator::builder()
        .background(INTERVAL)
        .max_age(Duration::from_secs(12))
        .check(counted(&runs).timeout(Duration::from_secs(2)))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_age");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_does_not_end_the_background_task() {
    let flips = Arc::new(AtomicUsize::new(0));
    let counter = flips.clone();
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .check(Check::from_fn("flappy", move || {
            let n = counter.fetch_add(1, SeqCst);
            async move { n.is_multiple_of(2) }
        }))
        .on_event(|_| panic!("listener bug"))
        .build()
        .unwrap();
    sleep(INTERVAL * 4 + Duration::from_millis(1)).await;
    assert_eq!(flips.load(SeqCst), 5);
    assert_eq!(health.metrics().runs, 5);
}

/// A check that answers `Healthy` at once on its first run and after `later` on the next ones.
fn slow_after_first(later: Duration) -> Check {
    let runs = AtomicUsize::new(0);
    Check::from_fn("db", move || {
        let first = runs.fetch_add(1, SeqCst) == 0;
        async move {
            if !first {
                sleep(later).await;
            }
            Status::Healthy
        }
    })
    .timeout(Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn watch_and_metrics_agree_with_a_stale_report() {
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .max_age(Duration::from_secs(12))
        .check(counted(&Arc::new(AtomicUsize::new(0))).timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let watch = health.watch();
    assert_eq!(health.report().await.status(), Status::Healthy);
    assert_eq!(*watch.borrow(), Status::Healthy);

    // Starved: the clock moves past max_age and the background task gets no turn.
    assert!(
        tokio::time::advance(Duration::from_secs(13))
            .now_or_never()
            .is_none()
    );
    let report = health
        .report()
        .now_or_never()
        .expect("reads the latest result");
    assert!(report.check("db").unwrap().is_stale());
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(*watch.borrow(), Status::Unhealthy, "the watch agrees");
    assert_eq!(
        health.metrics().status,
        Status::Unhealthy,
        "so do the metrics"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_see_a_stale_result_without_any_report() {
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .max_age(Duration::from_secs(12))
        .check(counted(&Arc::new(AtomicUsize::new(0))).timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let watch = health.watch();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(health.metrics().status, Status::Healthy);
    assert!(
        tokio::time::advance(Duration::from_secs(13))
            .now_or_never()
            .is_none()
    );
    assert_eq!(health.metrics().status, Status::Unhealthy);
    assert_eq!(*watch.borrow(), Status::Unhealthy);
}

/// With no report and no metrics call, the background task itself publishes staleness: it wakes
/// when the result reaches max_age, before the round that refreshes it has finished.
#[tokio::test(start_paused = true)]
async fn the_watch_learns_a_result_went_stale_with_no_report_asked_for() {
    the_watch_learns_staleness_after(Duration::from_secs(13)).await;
}

/// The same when the task wakes at the very instant the result reaches max_age: stale from then
/// on, published once, and the task goes on to its next wake-up.
#[tokio::test(start_paused = true)]
async fn the_watch_learns_a_result_went_stale_at_the_instant_it_did() {
    the_watch_learns_staleness_after(Duration::from_millis(11_999)).await;
}

async fn the_watch_learns_staleness_after(starved: Duration) {
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = events.clone();
    let health = HealthAggregator::builder()
        .background(INTERVAL)
        .max_age(Duration::from_secs(12))
        .check(slow_after_first(Duration::from_millis(500)))
        .on_event(move |e| log.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let mut watch = health.watch();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(*watch.borrow_and_update(), Status::Healthy);

    // The task is starved past max_age; when it runs again its round takes 500 ms, and the
    // result it holds meanwhile is stale.
    assert!(tokio::time::advance(starved).now_or_never().is_none());
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert!(watch.has_changed().unwrap());
    assert_eq!(*watch.borrow_and_update(), Status::Unhealthy);

    // The round ends, the fresh result is published.
    sleep(Duration::from_millis(600)).await;
    assert_eq!(*watch.borrow_and_update(), Status::Healthy);
    let changes: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            bulwark::health::Event::StatusChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (Status::Unhealthy, Status::Healthy),
            (Status::Healthy, Status::Unhealthy),
            (Status::Unhealthy, Status::Healthy)
        ]
    );
}
