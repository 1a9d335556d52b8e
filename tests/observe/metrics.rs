//! With the `metrics` feature every pattern records through the `metrics` facade: the names and
//! labels of the table in the crate docs, each series labelled with the instance's name. Each
//! test installs `metrics-util`'s debugging recorder for its own thread only.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// A metric's name and its labels, sorted.
type SeriesKey = (String, Vec<(String, String)>);

struct Recorded(BTreeMap<SeriesKey, DebugValue>);

impl Recorded {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.0
            .get(&(name.to_owned(), labels.clone()))
            .unwrap_or_else(|| {
                panic!(
                    "no series {name} {labels:?}; recorded: {:#?}",
                    self.0.keys().collect::<Vec<_>>()
                )
            })
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.get(name, labels) {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(name, labels) {
            DebugValue::Gauge(v) => v.into_inner(),
            other => panic!("{name} is not a gauge: {other:?}"),
        }
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.get(name, labels) {
            DebugValue::Histogram(v) => v.iter().map(|x| x.into_inner()).collect(),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    /// Every series carries a `name` label.
    fn all_named(&self) {
        for (name, labels) in self.0.keys() {
            assert!(
                labels.iter().any(|(k, _)| k == "name"),
                "{name} {labels:?} has no name label"
            );
        }
    }
}

/// Runs `scenario` on a paused current-thread runtime with a debugging recorder installed for
/// this thread, and returns every series it recorded.
fn recorded<F: Future<Output = ()>>(scenario: impl FnOnce() -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(scenario());
    });
    let mut series = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        series.insert((key.name().to_owned(), labels), value);
    }
    let recorded = Recorded(series);
    recorded.all_named();
    recorded
}

#[cfg(any(feature = "timeout", feature = "bulkhead", feature = "health"))]
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const P: (&str, &str) = ("name", "payments");

#[cfg(feature = "circuit-breaker")]
#[test]
fn circuit_breaker_records_calls_rejections_state_and_transitions() {
    use bulwark::circuit_breaker::CircuitBreaker;
    let m = recorded(|| async {
        let breaker = CircuitBreaker::builder()
            .name("payments")
            .consecutive_failures(2)
            .build()
            .unwrap();
        let _ = breaker.run(|| async { Ok::<_, &str>(()) }).await;
        for _ in 0..2 {
            let _ = breaker.run(|| async { Err::<(), _>("503") }).await;
        }
        let _ = breaker.run(|| async { Ok::<_, &str>(()) }).await;
    });
    let calls = "bulwark.circuit_breaker.calls";
    assert_eq!(m.counter(calls, &[P, ("outcome", "success")]), 1);
    assert_eq!(m.counter(calls, &[P, ("outcome", "failure")]), 2);
    assert_eq!(m.counter(calls, &[P, ("outcome", "ignored")]), 0);
    let rejections = "bulwark.circuit_breaker.rejections";
    assert_eq!(m.counter(rejections, &[P, ("reason", "open")]), 1);
    assert_eq!(m.counter(rejections, &[P, ("reason", "half_open")]), 0);
    let state = "bulwark.circuit_breaker.state";
    assert_eq!(m.gauge(state, &[P, ("state", "open")]), 1.0);
    assert_eq!(m.gauge(state, &[P, ("state", "closed")]), 0.0);
    let transitions = "bulwark.circuit_breaker.transitions";
    assert_eq!(
        m.counter(transitions, &[P, ("from", "closed"), ("to", "open")]),
        1
    );
    assert_eq!(m.counter("bulwark.circuit_breaker.slow_calls", &[P]), 0);
}

#[cfg(feature = "bulkhead")]
#[test]
fn bulkhead_records_admissions_rejections_in_flight_and_queued() {
    use bulwark::bulkhead::Bulkhead;
    let m = recorded(|| async {
        let bulkhead = Bulkhead::builder()
            .name("payments")
            .max_concurrent(1)
            .max_queued(1)
            .max_wait(ms(10))
            .build()
            .unwrap();
        // One call holds the slot; a second waits; a third finds the queue full. The first two
        // are left in flight and queued (leaked, so nothing releases them) when the scenario
        // ends and the series are read.
        let mut holder = Box::pin(bulkhead.run(std::future::pending::<Result<(), &str>>));
        let mut waiter = Box::pin(bulkhead.run(|| async { Ok::<_, &str>(()) }));
        assert!(futures::poll!(holder.as_mut()).is_pending());
        assert!(futures::poll!(waiter.as_mut()).is_pending());
        let full = bulkhead.run(|| async { Ok::<_, &str>(()) }).await;
        assert!(matches!(full, Err(bulwark::Error::BulkheadFull(_))));
        let m = bulkhead.metrics();
        assert_eq!((m.in_flight, m.queued), (1, 1));
        std::mem::forget((holder, waiter));
    });
    assert_eq!(m.counter("bulwark.bulkhead.admissions", &[P]), 1);
    let rejections = "bulwark.bulkhead.rejections";
    assert_eq!(m.counter(rejections, &[P, ("reason", "queue_full")]), 1);
    assert_eq!(m.counter(rejections, &[P, ("reason", "timed_out")]), 0);
    assert_eq!(m.gauge("bulwark.bulkhead.in_flight", &[P]), 1.0);
    assert_eq!(m.gauge("bulwark.bulkhead.queued", &[P]), 1.0);
    assert_eq!(m.gauge("bulwark.bulkhead.max_concurrent", &[P]), 1.0);
    assert_eq!(m.gauge("bulwark.bulkhead.max_queued", &[P]), 1.0);
}

#[cfg(feature = "bulkhead")]
#[test]
fn bulkhead_gauges_return_to_zero_when_calls_end() {
    use bulwark::bulkhead::Bulkhead;
    let m = recorded(|| async {
        let bulkhead = Bulkhead::builder()
            .name("payments")
            .max_concurrent(1)
            .max_queued(4)
            .max_wait(ms(10))
            .build()
            .unwrap();
        let slow = || async {
            tokio::time::sleep(ms(50)).await;
            Ok::<_, &str>(())
        };
        let calls = (0..4).map(|_| bulkhead.run(slow));
        let results = futures::future::join_all(calls).await;
        // One ran, three waited 10 ms and gave up.
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    });
    assert_eq!(m.gauge("bulwark.bulkhead.in_flight", &[P]), 0.0);
    assert_eq!(m.gauge("bulwark.bulkhead.queued", &[P]), 0.0);
    let rejections = "bulwark.bulkhead.rejections";
    assert_eq!(m.counter(rejections, &[P, ("reason", "timed_out")]), 3);
}

#[cfg(feature = "bulkhead")]
#[test]
fn adaptive_bulkhead_limit_is_the_max_concurrent_gauge_and_changes_are_counted() {
    use bulwark::bulkhead::{Aimd, Bulkhead};
    let m = recorded(|| async {
        let limit = Aimd::builder()
            .initial_limit(8)
            .backoff(0.5)
            .build()
            .unwrap();
        let bulkhead = Bulkhead::builder()
            .name("payments")
            .adaptive(limit)
            .build()
            .unwrap();
        let _ = bulkhead.run(|| async { Err::<(), _>("unavailable") }).await;
        assert_eq!(bulkhead.metrics().max_concurrent, 4);
    });
    assert_eq!(m.gauge("bulwark.bulkhead.max_concurrent", &[P]), 4.0);
    let changes = "bulwark.bulkhead.limit_changes";
    assert_eq!(m.counter(changes, &[P, ("direction", "down")]), 1);
    assert_eq!(m.counter(changes, &[P, ("direction", "up")]), 0);
}

#[cfg(feature = "retry")]
#[test]
fn retry_records_retries_and_give_ups_by_reason() {
    use bulwark::retry::Retry;
    let m = recorded(|| async {
        let retry = Retry::builder()
            .name("payments")
            .max_attempts(3)
            .build()
            .unwrap();
        let _ = retry.run(|_| async { Err::<(), _>("no") }).await;
    });
    let retries = "bulwark.retry.retries";
    assert_eq!(m.counter(retries, &[P, ("reason", "error")]), 2);
    assert_eq!(m.counter(retries, &[P, ("reason", "response")]), 0);
    let give_ups = "bulwark.retry.give_ups";
    assert_eq!(m.counter(give_ups, &[P, ("reason", "attempts")]), 1);
    assert_eq!(m.counter(give_ups, &[P, ("reason", "budget")]), 0);
}

#[cfg(feature = "timeout")]
#[test]
fn timeout_counts_timeouts_by_phase() {
    use bulwark::timeout::Timeout;
    let m = recorded(|| async {
        let timeout = Timeout::new(ms(10)).name("payments");
        assert_eq!(timeout.run(async { 1 }).await, Ok(1));
        let _ = timeout.run(std::future::pending::<()>()).await;
        let _ = timeout.run(std::future::pending::<()>()).await;
    });
    assert_eq!(
        m.counter("bulwark.timeout.timeouts", &[P, ("phase", "call")]),
        2
    );
}

#[cfg(feature = "chaos")]
#[test]
fn chaos_counts_faults_by_kind() {
    use bulwark::chaos::Chaos;
    let m = recorded(|| async {
        let chaos = Chaos::builder()
            .name("payments")
            .seed(1)
            .error(1.0, || "injected")
            .build()
            .unwrap();
        let _ = chaos.run(|| async { Ok::<_, &str>(()) }).await;
    });
    assert_eq!(
        m.counter("bulwark.chaos.faults", &[P, ("fault", "error")]),
        1
    );
}

#[cfg(feature = "saga")]
#[test]
fn saga_records_starts_steps_compensations_and_outcomes() {
    use bulwark::BoxError;
    use bulwark::saga::{Saga, Step};
    let m = recorded(|| async {
        let mut b = Saga::<u32>::builder("order");
        b.step(
            Step::new("reserve", |_ctx| async { Ok::<_, BoxError>(()) })
                .compensate(|_ctx| async { Ok::<_, BoxError>(()) }),
        );
        b.step(Step::new("charge", |ctx| async move {
            if *ctx.input() == 0 {
                Err::<(), BoxError>("declined".into())
            } else {
                Ok(())
            }
        }));
        let saga = b.build().unwrap();
        let _ = saga.run(1).await.unwrap();
        let _ = saga.run(0).await.unwrap();
    });
    let o = ("name", "order");
    assert_eq!(
        m.counter("bulwark.saga.starts", &[o, ("how", "started")]),
        2
    );
    let steps = "bulwark.saga.steps";
    assert_eq!(m.counter(steps, &[o, ("outcome", "completed")]), 3);
    assert_eq!(m.counter(steps, &[o, ("outcome", "failed")]), 1);
    let compensations = "bulwark.saga.compensations";
    assert_eq!(m.counter(compensations, &[o, ("outcome", "completed")]), 1);
    let runs = "bulwark.saga.runs";
    assert_eq!(m.counter(runs, &[o, ("outcome", "completed")]), 1);
    assert_eq!(m.counter(runs, &[o, ("outcome", "compensated")]), 1);
    assert_eq!(m.counter(runs, &[o, ("outcome", "parked")]), 0);
}

#[cfg(feature = "health")]
#[test]
fn health_records_each_check_status_and_duration_and_the_overall_status() {
    use bulwark::health::{Check, Health, HealthAggregator};
    let m = recorded(|| async {
        let health = HealthAggregator::builder()
            .name("orders")
            .check(Check::from_fn("db", || async {
                tokio::time::sleep(ms(20)).await;
                Health::degraded("slow")
            }))
            .build()
            .unwrap();
        health.report().await;
    });
    let (o, db) = (("name", "orders"), ("check", "db"));
    let status = "bulwark.health.check.status";
    assert_eq!(m.gauge(status, &[o, db, ("status", "degraded")]), 1.0);
    assert_eq!(m.gauge(status, &[o, db, ("status", "healthy")]), 0.0);
    let durations = m.histogram("bulwark.health.check.duration_seconds", &[o, db]);
    assert!(
        durations.len() == 1 && durations[0] >= 0.02,
        "one run of at least 20 ms: {durations:?}"
    );
    let overall = "bulwark.health.status";
    assert_eq!(m.gauge(overall, &[o, ("status", "degraded")]), 1.0);
    assert_eq!(m.gauge(overall, &[o, ("status", "unhealthy")]), 0.0);
}

#[cfg(feature = "rate-limit")]
#[test]
fn rate_limit_rejections_and_waits_are_counted() {
    use bulwark::rate_limit::RateLimiter;
    let m = recorded(|| async {
        let limiter = RateLimiter::builder()
            .name("payments")
            .rate(1, Duration::from_secs(1))
            .max_wait(Duration::from_secs(1))
            .build()
            .unwrap();
        assert!(limiter.run(|| async { Ok::<_, &str>(()) }).await.is_ok());
        let mut waiting = Box::pin(limiter.run(|| async { Ok::<_, &str>(()) }));
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        assert!(limiter.run(|| async { Ok::<_, &str>(()) }).await.is_err());
        assert!(waiting.await.is_ok());
    });
    assert_eq!(m.counter("bulwark.rate_limit.rejections", &[P]), 1);
    assert_eq!(m.counter("bulwark.rate_limit.waits", &[P]), 1);
    assert_eq!(m.counter("bulwark.rate_limit.store_unavailable", &[P]), 0);
}

#[cfg(feature = "hedge")]
#[test]
fn hedges_wins_and_refusals_are_counted() {
    use bulwark::hedge::Hedge;
    use bulwark::retry::RetryBudget;
    let m = recorded(|| async {
        // A budget of one hedge (no share of the calls, a floor of 1 per second over 1 s).
        let budget = RetryBudget::builder()
            .ratio(0.0)
            .min_per_second(1)
            .window(Duration::from_secs(1))
            .build()
            .unwrap();
        let hedge = Hedge::builder()
            .name("payments")
            .delay(Duration::from_millis(10))
            .budget(budget)
            .build()
            .unwrap();
        for _ in 0..2 {
            let mut attempt = 0;
            let out = hedge
                .run(|| {
                    attempt += 1;
                    let ms = if attempt == 1 { 50 } else { 1 };
                    async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        Ok::<_, &str>(attempt)
                    }
                })
                .await;
            assert!(out.is_ok());
        }
    });
    assert_eq!(m.counter("bulwark.hedge.hedges", &[P]), 1);
    assert_eq!(m.counter("bulwark.hedge.wins", &[P]), 1);
    assert_eq!(m.counter("bulwark.hedge.budget_exhausted", &[P]), 1);
}

#[cfg(all(feature = "fallback", feature = "timeout"))]
#[test]
fn fallback_uses_are_counted_by_reason_and_panics_apart() {
    use bulwark::fallback::{Fallback, Reason};
    use bulwark::timeout::Timeout;
    let m = recorded(|| async {
        let fallback = Fallback::builder(|_: Reason| 0)
            .name("payments")
            .build()
            .unwrap();
        let panicking = Fallback::builder(|_: Reason| -> i32 { panic!("no value") })
            .name("payments")
            .build()
            .unwrap();
        for f in [&fallback, &fallback] {
            let out = f
                .run(|| async {
                    let slow = std::future::pending::<Result<i32, ()>>();
                    Timeout::new(Duration::from_millis(5))
                        .run(slow)
                        .await?
                        .map_err(bulwark::Error::Inner)
                })
                .await;
            assert_eq!(out, Ok(0));
        }
        let out = panicking.apply(Err::<i32, _>(bulwark::Error::<()>::Timeout(
            Timeout::new(Duration::from_millis(5))
                .run(std::future::pending::<()>())
                .await
                .unwrap_err(),
        )));
        assert!(out.is_err());
    });
    let used = "bulwark.fallback.used";
    assert_eq!(m.counter(used, &[P, ("reason", "timeout")]), 2);
    assert_eq!(m.counter(used, &[P, ("reason", "circuit_open")]), 0);
    assert_eq!(m.counter("bulwark.fallback.panics", &[P]), 1);
}
