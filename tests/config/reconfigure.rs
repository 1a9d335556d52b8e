//! Running instances take new settings and keep their state.

use bulwark::Error;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::bulkhead::{Bulkhead, BulkheadFull, FullReason};
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::config::Policies;
use bulwark::retry::RetryBudget;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::advance;

async fn succeed(b: &CircuitBreaker) -> Result<(), Error<io::Error>> {
    b.run(|| async { Ok(()) }).await
}

async fn fail(b: &CircuitBreaker) -> Result<(), Error<io::Error>> {
    b.run(|| async { Err(io::Error::other("down")) }).await
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("payments")
        .count_window(10)
        .minimum_calls(4)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_lower_threshold_judges_the_calls_already_in_the_window_at_the_next_failure() {
    let b = breaker();
    for _ in 0..3 {
        succeed(&b).await.unwrap();
    }
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Closed, "1 of 4 failed: 25 % < 50 %");

    let mut s = b.settings();
    s.failure_rate_threshold = Some(0.3);
    b.reconfigure(&s).unwrap();
    assert_eq!(b.metrics().calls, 4, "the window is kept");
    assert_eq!(b.state(), State::Closed, "judged at the next failure");
    let _ = fail(&b).await;
    assert_eq!(
        b.state(),
        State::Open,
        "2 of the 5 calls kept failed: 40 %, over the new 30 % (under the old 50 %)"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_stays_open_and_the_new_open_duration_applies_at_the_next_opening() {
    let b = breaker();
    for _ in 0..4 {
        let _ = fail(&b).await;
    }
    assert_eq!(b.state(), State::Open);
    let mut s = b.settings();
    s.open_duration = Duration::from_secs(5);
    s.permitted_calls_in_half_open = 1;
    b.reconfigure(&s).unwrap();
    assert_eq!(b.state(), State::Open, "the state is kept");

    advance(Duration::from_secs(6)).await;
    assert!(
        matches!(succeed(&b).await, Err(Error::CircuitOpen(_))),
        "the open period it was given (30 s) is kept"
    );
    advance(Duration::from_secs(25)).await;
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "one probe, failed: open again");
    advance(Duration::from_secs(4)).await;
    assert!(matches!(succeed(&b).await, Err(Error::CircuitOpen(_))));
    advance(Duration::from_secs(1)).await;
    succeed(&b).await.unwrap();
    assert_eq!(
        b.state(),
        State::Closed,
        "reopened for the new 5 s; one probe is now enough to close"
    );
}

/// A breaker whose reopenings follow a linear backoff of 10 s, 20 s, 30 s, ... after a first
/// opening of 30 s; one failed probe reopens it.
fn backing_off_breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .count_window(10)
        .minimum_calls(4)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(30))
        .permitted_calls_in_half_open(1)
        .open_duration_backoff(
            Backoff::linear(Duration::from_secs(10))
                .max_delay(Duration::from_secs(100))
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// How long the open circuit says it stays open.
async fn open_for(b: &CircuitBreaker) -> Duration {
    match succeed(b).await {
        Err(Error::CircuitOpen(open)) => open.retry_after(),
        other => panic!("expected an open circuit, got {other:?}"),
    }
}

/// Opens the circuit, then fails two probes: it has reopened for 10 s, then for 20 s.
async fn reopened_twice(b: &CircuitBreaker) {
    for _ in 0..4 {
        let _ = fail(b).await;
    }
    assert_eq!(open_for(b).await, Duration::from_secs(30));
    for delay in [10, 20] {
        advance(open_for(b).await).await;
        let _ = fail(b).await;
        assert_eq!(open_for(b).await, Duration::from_secs(delay));
    }
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_reopen_backoff_goes_on_where_it_was() {
    let b = backing_off_breaker();
    reopened_twice(&b).await;
    let mut s = b.settings();
    s.failure_rate_threshold = Some(0.6);
    b.reconfigure(&s).unwrap();
    advance(Duration::from_secs(20)).await;
    let _ = fail(&b).await;
    assert_eq!(
        open_for(&b).await,
        Duration::from_secs(30),
        "the third delay of the same backoff, not its first again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_reopen_backoff_starts_at_the_next_reopening() {
    let b = backing_off_breaker();
    reopened_twice(&b).await;
    let mut s = b.settings();
    let constant = Backoff::constant(Duration::from_secs(3))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    s.open_duration_backoff = Some(constant.settings());
    b.reconfigure(&s).unwrap();
    assert_eq!(
        open_for(&b).await,
        Duration::from_secs(20),
        "this opening is kept"
    );
    advance(Duration::from_secs(20)).await;
    let _ = fail(&b).await;
    assert_eq!(open_for(&b).await, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_change_of_window_is_refused_and_changes_nothing() {
    let b = breaker();
    let before = b.settings();
    let mut s = before.clone();
    s.failure_rate_threshold = Some(0.1);
    s.count_window = Some(20);
    let e = b.reconfigure(&s).unwrap_err();
    assert_eq!(e.field(), "count_window");
    assert_eq!(b.settings(), before, "nothing changed");

    s.count_window = None;
    s.time_window = Some(Duration::from_secs(60));
    assert_eq!(b.reconfigure(&s).unwrap_err().field(), "time_window");

    let mut bad = before.clone();
    bad.minimum_calls = 0;
    assert_eq!(b.reconfigure(&bad).unwrap_err().field(), "minimum_calls");
    assert_eq!(b.settings(), before);
}

#[tokio::test(start_paused = true)]
async fn every_service_of_the_breaker_sees_the_change() {
    use tower::{Service, ServiceExt};
    let b = breaker();
    let mut svc =
        tower::ServiceBuilder::new()
            .layer(b.layer())
            .service_fn(|fail: bool| async move {
                if fail {
                    Err(io::Error::other("down"))
                } else {
                    Ok(())
                }
            });
    let mut s = b.settings();
    s.consecutive_failures = Some(2);
    s.failure_rate_threshold = None;
    b.reconfigure(&s).unwrap();
    for _ in 0..2 {
        let _ = svc.ready().await.unwrap().call(true).await;
    }
    assert_eq!(b.state(), State::Open, "two in a row, through the layer");
}

#[tokio::test(start_paused = true)]
async fn slow_calls_count_once_the_rule_is_turned_on() {
    let b = breaker();
    let slow = || {
        b.run(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok::<_, io::Error>(())
        })
    };
    slow().await.unwrap();
    assert_eq!(b.metrics().slow_calls, 0, "no slow-call rule yet");
    let mut s = b.settings();
    s.slow_call_threshold = Some(bulwark::circuit_breaker::SlowCall {
        slower_than: Duration::from_secs(2),
        rate: 0.5,
    });
    b.reconfigure(&s).unwrap();
    for _ in 0..3 {
        slow().await.unwrap();
    }
    assert_eq!(b.metrics().slow_calls, 3);
    assert_eq!(b.state(), State::Open, "3 slow of 4 calls");
}

#[tokio::test(start_paused = true)]
async fn reconfiguring_while_threads_call_loses_no_call_and_no_state() {
    let b = CircuitBreaker::builder()
        .count_window(50)
        .minimum_calls(10)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            let (stop, made) = (Arc::clone(&stop), Arc::clone(&made));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let mut calls = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    rt.block_on(b.run(|| async { Ok::<_, io::Error>(()) }))
                        .unwrap();
                    calls += 1;
                    made.fetch_add(1, Ordering::Relaxed);
                }
                calls
            })
        })
        .collect();
    let mut s = b.settings();
    // At least 200 changes, and on until the threads have made 1,000 calls among them (on a loaded
    // machine they may not have started before 200 changes are over).
    let mut i = 0u32;
    while i < 200 || (made.load(Ordering::Relaxed) < 1_000 && i < 10_000_000) {
        i += 1;
        s.failure_rate_threshold = Some(0.1 + f64::from(i % 9) / 10.0);
        s.minimum_calls = 1 + i % 20;
        s.permitted_calls_in_half_open = 1 + i % 5;
        b.reconfigure(&s).unwrap();
        assert_eq!(b.settings(), s);
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let calls: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(calls > 0);
    assert_eq!(b.state(), State::Closed, "successes never open it");
    assert_eq!(
        b.metrics().calls,
        calls.min(50),
        "the window kept every call"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bulkhead_keeps_its_calls_in_flight_and_waiting() {
    let bulkhead = Bulkhead::builder()
        .name("inventory")
        .max_concurrent(2)
        .max_queued(1)
        .build()
        .unwrap();
    let (release, hold) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for _ in 0..3 {
        let bulkhead = bulkhead.clone();
        let mut hold = hold.clone();
        running.push(tokio::spawn(async move {
            bulkhead
                .run(|| async move {
                    let _ = hold.wait_for(|go| *go).await;
                    Ok::<_, io::Error>(())
                })
                .await
        }));
    }
    tokio::task::yield_now().await;
    let m = bulkhead.metrics();
    assert_eq!((m.in_flight, m.queued), (2, 1));

    let mut s = bulkhead.settings();
    s.max_concurrent = 1;
    s.max_queued = 0;
    s.max_wait = Some(Duration::from_millis(10));
    bulkhead.reconfigure(&s).unwrap();
    let m = bulkhead.metrics();
    assert_eq!(
        (m.in_flight, m.queued, m.max_concurrent),
        (2, 1, 1),
        "nothing in flight or waiting is dropped"
    );
    let turned_away = bulkhead.run(|| async { Ok::<_, io::Error>(()) }).await;
    assert!(matches!(turned_away, Err(Error::BulkheadFull(_))));

    release.send_replace(true);
    for task in running {
        task.await.unwrap().unwrap();
    }
    assert_eq!(bulkhead.metrics().in_flight, 0);
    assert_eq!(bulkhead.settings(), s);

    let mut bad = s;
    bad.max_concurrent = 0;
    assert_eq!(
        bulkhead.reconfigure(&bad).unwrap_err().field(),
        "max_concurrent"
    );
    assert_eq!(bulkhead.settings(), s, "nothing changed");
}

#[tokio::test(start_paused = true)]
async fn a_new_max_wait_applies_to_calls_that_queue_after_it() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(4)
        .build()
        .unwrap();
    let hold = bulkhead.clone();
    let (release, mut gate) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        hold.run(|| async move {
            let _ = (&mut gate).await;
            Ok::<_, io::Error>(())
        })
        .await
    });
    tokio::task::yield_now().await;
    let mut s = bulkhead.settings();
    s.max_wait = Some(Duration::from_millis(100));
    bulkhead.reconfigure(&s).unwrap();
    let started = tokio::time::Instant::now();
    let waited = bulkhead.run(|| async { Ok::<_, io::Error>(()) }).await;
    match waited {
        Err(Error::BulkheadFull(full)) => {
            let full: BulkheadFull = full;
            assert_eq!(
                full.reason(),
                FullReason::TimedOut {
                    after: Duration::from_millis(100)
                }
            );
        }
        other => panic!("expected a timed-out wait, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_budget_keeps_its_balance_under_a_new_ratio() {
    use bulwark::retry::Retry;
    let budget = RetryBudget::builder()
        .ratio(0.1)
        .min_per_second(0)
        .build()
        .unwrap();
    let retry = Retry::builder()
        .budget(budget.clone())
        .max_attempts(1)
        .build()
        .unwrap();
    for _ in 0..20 {
        retry
            .run(|_| async { Ok::<_, io::Error>(()) })
            .await
            .unwrap();
    }
    assert_eq!(budget.metrics().requests, 20);
    assert_eq!(budget.metrics().available, 2, "10 % of 20");

    let mut s = budget.settings();
    s.ratio = 0.5;
    budget.reconfigure(&s).unwrap();
    assert_eq!(budget.metrics().requests, 20, "the requests are kept");
    assert_eq!(budget.metrics().available, 10, "50 % of the same 20");

    s.window = Duration::from_secs(60);
    assert_eq!(budget.reconfigure(&s).unwrap_err().field(), "window");
    assert_eq!(budget.settings().ratio, 0.5, "nothing changed");
    advance(Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn policies_find_running_instances_by_name() {
    let first = Policies::from_toml(
        "[circuit_breaker.payments]\ncount_window = 10\n[bulkhead.payments]\nmax_concurrent = 4\n\
         [retry_budget.shared]\nratio = 0.1\n",
    )
    .unwrap();
    let b = first.circuit_breaker("payments").unwrap().build().unwrap();
    let bulkhead = first.bulkhead("payments").unwrap().build().unwrap();
    let budget = first.retry_budget("shared").unwrap();
    for _ in 0..4 {
        let _ = fail(&b).await;
    }
    assert_eq!(
        b.state(),
        State::Closed,
        "4 of 10 calls: under the minimum of 10"
    );

    let second = Policies::from_toml(
        "[circuit_breaker.payments]\ncount_window = 10\nminimum_calls = 5\n\
         [bulkhead.payments]\nmax_concurrent = 8\n[retry_budget.shared]\nratio = 0.3\n",
    )
    .unwrap();
    second.reconfigure(&b).unwrap();
    second.reconfigure(&bulkhead).unwrap();
    second.reconfigure_retry_budget("shared", &budget).unwrap();
    assert_eq!(bulkhead.metrics().max_concurrent, 8);
    assert_eq!(budget.settings().ratio, 0.3);
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Open, "5 failures: the new minimum");

    let third = Policies::from_toml("[circuit_breaker.payments]\ncount_window = 20\n").unwrap();
    let e = third.reconfigure(&b).unwrap_err();
    assert_eq!(e.key(), "circuit_breaker.payments.count_window");
    assert_eq!(
        third.reconfigure(&bulkhead).unwrap_err().key(),
        "bulkhead.payments"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_built_from_the_handles_follows_their_new_settings() {
    use bulwark::pipeline::Pipeline;
    let breaker = breaker();
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let slow = || {
        pipeline.run(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, io::Error>(())
        })
    };
    let (a, b) = tokio::join!(slow(), slow());
    assert!(
        a.is_ok() && matches!(b, Err(Error::BulkheadFull(_))),
        "one at a time"
    );
    let mut s = bulkhead.settings();
    s.max_concurrent = 2;
    bulkhead.reconfigure(&s).unwrap();
    let (a, b) = tokio::join!(slow(), slow());
    assert!(
        a.is_ok() && b.is_ok(),
        "two at a time through the same pipeline"
    );

    let mut s = breaker.settings();
    s.consecutive_failures = Some(1);
    breaker.reconfigure(&s).unwrap();
    let _ = pipeline
        .run(|| async { Err::<(), _>(io::Error::other("down")) })
        .await;
    assert_eq!(
        breaker.state(),
        State::Open,
        "the pipeline's breaker took the rule"
    );
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_bulkhead_keeps_its_learned_limit_through_a_reconfigure() {
    use bulwark::bulkhead::Aimd;
    let limit = Aimd::builder()
        .initial_limit(10)
        .min_limit(1)
        .max_limit(50)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder().adaptive(limit).build().unwrap();
    // One round of ten failed calls: the limit drops by the backoff factor.
    for _ in 0..10 {
        let _ = bulkhead
            .run(|| async { Err::<(), _>(io::Error::other("down")) })
            .await;
    }
    let learned = bulkhead.metrics().max_concurrent;
    assert!(learned < 10, "the algorithm lowered the limit: {learned}");

    let mut s = bulkhead.settings();
    s.max_concurrent = 40;
    s.max_queued = 7;
    bulkhead.reconfigure(&s).unwrap();
    let m = bulkhead.metrics();
    assert_eq!(
        (m.max_concurrent, m.max_queued),
        (learned, 7),
        "the queue changed, the limit stays the algorithm's"
    );
    s.max_concurrent = 0;
    assert_eq!(
        bulkhead.reconfigure(&s).unwrap_err().field(),
        "max_concurrent",
        "still validated"
    );
}

#[tokio::test(start_paused = true)]
async fn a_keyed_breaker_gives_every_key_the_new_settings_and_keeps_their_states() {
    use bulwark::keyed::Keyed;
    let template = CircuitBreaker::builder()
        .name("carriers")
        .count_window(10)
        .minimum_calls(4)
        .build()
        .unwrap();
    let hosts: Keyed<String, _> = Keyed::builder(template).build().unwrap();
    for _ in 0..4 {
        let _ = hosts
            .run("ups", || async { Err::<(), _>(io::Error::other("down")) })
            .await;
    }
    let _ = hosts.run("dhl", || async { Ok::<_, io::Error>(()) }).await;
    assert_eq!(hosts.get("ups").unwrap().state(), State::Open);

    let policies = Policies::from_toml(
        "[circuit_breaker.carriers]\ncount_window = 10\nminimum_calls = 2\nconsecutive_failures = 1\n",
    )
    .unwrap();
    policies.reconfigure(&hosts).unwrap();
    assert_eq!(hosts.get("ups").unwrap().state(), State::Open, "state kept");
    for host in ["ups", "dhl", "fedex"] {
        let s = hosts.get(host).unwrap().settings();
        assert_eq!(
            (s.minimum_calls, s.consecutive_failures),
            (2, Some(1)),
            "{host}: held keys and new ones"
        );
    }
    let _ = hosts
        .run("dhl", || async { Err::<(), _>(io::Error::other("down")) })
        .await;
    assert_eq!(
        hosts.get("dhl").unwrap().state(),
        State::Open,
        "one failure now"
    );

    let wider = Policies::from_toml("[circuit_breaker.carriers]\ncount_window = 20\n").unwrap();
    let e = wider.reconfigure(&hosts).unwrap_err();
    assert_eq!(e.key(), "circuit_breaker.carriers.count_window");
    assert_eq!(
        hosts.get("fedex").unwrap().settings().minimum_calls,
        2,
        "refused by the template: no key changed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_keyed_bulkhead_gives_every_key_the_new_limit() {
    use bulwark::keyed::Keyed;
    let template = Bulkhead::builder()
        .name("tenants")
        .max_concurrent(2)
        .build()
        .unwrap();
    let tenants: Keyed<String, _> = Keyed::builder(template).build().unwrap();
    let acme = tenants.get("acme").unwrap();
    let mut s = acme.settings();
    s.max_concurrent = 6;
    tenants.reconfigure(&s).unwrap();
    assert_eq!(acme.metrics().max_concurrent, 6);
    assert_eq!(tenants.get("initech").unwrap().metrics().max_concurrent, 6);
}
