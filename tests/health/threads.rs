//! The aggregator on real threads: reports from many tasks on a multi-thread runtime, and from
//! bare threads, share each check's run (a check runs at most once at a time) and its cached
//! result (a burst of reports within the cache runs each check once).

use bulwark::health::{Check, HealthAggregator, Status};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Runs of one check: how many, how many at once now, the most ever at once.
#[derive(Default)]
struct Runs {
    started: AtomicUsize,
    now: AtomicUsize,
    most: AtomicUsize,
}

/// A check that yields `yields` times before answering `Healthy`, counted in `runs`.
fn counted(name: &str, runs: &Arc<Runs>, yields: usize) -> Check {
    let runs = runs.clone();
    Check::from_fn(name, move || {
        let runs = runs.clone();
        async move {
            runs.started.fetch_add(1, SeqCst);
            let now = runs.now.fetch_add(1, SeqCst) + 1;
            runs.most.fetch_max(now, SeqCst);
            for _ in 0..yields {
                tokio::task::yield_now().await;
                std::thread::yield_now();
            }
            runs.now.fetch_sub(1, SeqCst);
            Status::Healthy
        }
    })
}

#[test]
fn reports_from_many_tasks_never_run_a_check_twice_at_once() {
    let runs: Vec<Arc<Runs>> = (0..3).map(|_| Arc::default()).collect();
    let mut builder = HealthAggregator::builder().cache_for(Duration::ZERO);
    for (i, r) in runs.iter().enumerate() {
        builder = builder.check(counted(&format!("c{i}"), r, i * 2));
    }
    let health = builder.build().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let health = health.clone();
                tokio::spawn(async move {
                    for _ in 0..200 {
                        let report = health.report().await;
                        assert_eq!(report.status(), Status::Healthy);
                        assert_eq!(report.checks().len(), 3);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.most.load(SeqCst), 1, "check c{i} ran twice at once");
        assert_eq!(r.now.load(SeqCst), 0);
    }
}

#[test]
fn a_burst_of_reports_from_bare_threads_runs_each_check_once() {
    for round in 0..50 {
        let runs = Arc::new(Runs::default());
        // A cache no round outlives: every report joins the one run or reads its result.
        let health = HealthAggregator::builder()
            .cache_for(Duration::from_secs(600))
            .check(counted("db", &runs, round % 3))
            .build()
            .unwrap();
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let (health, start) = (health.clone(), &start);
                scope.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .unwrap();
                    start.wait();
                    let report = rt.block_on(health.report());
                    assert_eq!(report.status(), Status::Healthy);
                });
            }
        });
        assert_eq!(
            runs.started.load(SeqCst),
            1,
            "round {round}: more than one run"
        );
    }
}
