//! Every event of every pattern carries the name of the instance that emitted it, and the
//! rejection errors print it.

use std::collections::BTreeSet;
#[cfg(feature = "timeout")]
use std::future::pending;
use std::sync::{Arc, Mutex};

/// Collects the events of one instance: `(variant, name)` for each.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String)>>>);

impl Seen {
    fn push<E: std::fmt::Debug>(&self, event: &E, name: &str) {
        // The variant's name is the start of its Debug form.
        let debug = format!("{event:?}");
        let variant = debug
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_owned();
        self.0.lock().unwrap().push((variant, name.to_owned()));
    }

    /// The variants seen, after checking every event carried `name`.
    fn variants_all_named(&self, name: &str) -> BTreeSet<String> {
        let seen = self.0.lock().unwrap();
        assert!(!seen.is_empty(), "no events");
        for (variant, n) in seen.iter() {
            assert_eq!(n, name, "{variant} carried the wrong name");
        }
        seen.iter().map(|(v, _)| v.clone()).collect()
    }
}

fn set(variants: &[&str]) -> BTreeSet<String> {
    variants.iter().map(|s| (*s).to_owned()).collect()
}

/// A health report over `check` alone: the check's `name` detail and its message.
#[cfg(all(
    feature = "health",
    any(feature = "circuit-breaker", feature = "bulkhead")
))]
async fn reported(check: bulwark::health::Check) -> (Option<String>, Option<String>) {
    let health = bulwark::health::HealthAggregator::builder()
        .check(check)
        .build()
        .unwrap();
    let report = health.report().await;
    let check = &report.checks()[0];
    let name = check.details().get("name").map(ToString::to_string);
    (name, check.message().map(str::to_owned))
}

#[cfg(any(feature = "timeout", feature = "bulkhead", feature = "saga"))]
fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

#[cfg(feature = "timeout")]
#[tokio::test(start_paused = true)]
async fn timeout_events_and_errors_carry_the_name() {
    use bulwark::timeout::{Timeout, TimeoutLayer};
    use tower::{Service, ServiceExt};

    let seen = Seen::default();
    let s = seen.clone();
    let timeout = Timeout::new(ms(10))
        .name("payments")
        .on_event(move |e| s.push(e, e.name()));
    let elapsed = timeout.run(pending::<()>()).await.unwrap_err();
    assert_eq!(elapsed.name(), "payments");
    assert_eq!(elapsed.to_string(), "timed out \"payments\" after 10ms");

    // The wait for readiness, through the layer.
    let s = seen.clone();
    let layer = TimeoutLayer::new(ms(10))
        .backpressure_timeout(ms(5))
        .name("payments")
        .on_event(move |e| s.push(e, e.name()));
    let (never_ready, mut handle) = tower_test::mock::pair::<(), ()>();
    handle.allow(0);
    let mut svc = tower::Layer::layer(&layer, never_ready);
    let err = svc.ready().await.unwrap().call(()).await.unwrap_err();
    let elapsed = err.downcast_ref::<bulwark::timeout::Elapsed>().unwrap();
    assert!(elapsed.while_waiting_for_readiness());
    assert_eq!(elapsed.name(), "payments");
    assert_eq!(seen.variants_all_named("payments"), set(&["TimedOut"]));
    assert_eq!(seen.0.lock().unwrap().len(), 2);
}

#[cfg(feature = "timeout")]
#[tokio::test(start_paused = true)]
async fn an_unnamed_timeout_is_named_timeout_and_says_so_only_in_events() {
    use bulwark::timeout::Timeout;
    let seen = Seen::default();
    let s = seen.clone();
    let timeout = Timeout::new(ms(10)).on_event(move |e| s.push(e, e.name()));
    let elapsed = timeout.run(pending::<()>()).await.unwrap_err();
    assert_eq!(elapsed.name(), "timeout");
    assert_eq!(elapsed.to_string(), "timed out after 10ms");
    seen.variants_all_named("timeout");
}

#[cfg(feature = "retry")]
#[tokio::test(start_paused = true)]
async fn retry_events_carry_the_name() {
    use bulwark::retry::Retry;
    let seen = Seen::default();
    let s = seen.clone();
    let retry = Retry::builder()
        .name("payments")
        .max_attempts(2)
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    let _ = retry.run(|_| async { Err::<(), _>("no") }).await;
    assert_eq!(
        seen.variants_all_named("payments"),
        set(&["GaveUp", "Retrying"])
    );
}

#[cfg(feature = "circuit-breaker")]
#[tokio::test(start_paused = true)]
async fn circuit_breaker_events_and_rejections_carry_the_name() {
    use bulwark::circuit_breaker::CircuitBreaker;
    let seen = Seen::default();
    let s = seen.clone();
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .consecutive_failures(1)
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    assert_eq!(breaker.name(), "payments");
    let _ = breaker.run(|| async { Err::<(), _>("503") }).await;
    let rejected = breaker.run(|| async { Ok::<_, &str>(()) }).await;
    let Err(bulwark::Error::CircuitOpen(open)) = rejected else {
        panic!("expected a rejection")
    };
    assert_eq!(open.name(), "payments");
    assert!(
        open.to_string()
            .starts_with("circuit breaker \"payments\" is open, retry after"),
        "{open}"
    );
    assert_eq!(
        seen.variants_all_named("payments"),
        set(&["Recorded", "Rejected", "StateChanged"])
    );

    // The ready-made health check names the breaker in its details and message.
    #[cfg(feature = "health")]
    {
        use bulwark::health::{Check, CircuitBreakerCheck};
        let (name, message) =
            reported(Check::new("payments", CircuitBreakerCheck::new(breaker))).await;
        assert_eq!(name.as_deref(), Some("payments"));
        assert_eq!(message.as_deref(), Some("circuit \"payments\" open"));
    }
}

#[cfg(feature = "bulkhead")]
#[tokio::test(start_paused = true)]
async fn bulkhead_events_and_rejections_carry_the_name() {
    use bulwark::bulkhead::Bulkhead;
    let seen = Seen::default();
    let s = seen.clone();
    let bulkhead = Bulkhead::builder()
        .name("payments")
        .max_concurrent(1)
        .max_queued(1)
        .max_wait(ms(10))
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let b = bulkhead.clone();
    let holder = tokio::spawn(async move {
        b.run(|| async {
            let _ = held.await;
            Ok::<_, &str>(())
        })
        .await
    });
    tokio::task::yield_now().await;
    let waited = bulkhead.run(|| async { Ok::<_, &str>(()) }).await;
    let Err(bulwark::Error::BulkheadFull(full)) = waited else {
        panic!("expected a rejection")
    };
    assert_eq!(full.name(), "payments");
    assert_eq!(
        full.to_string(),
        "bulkhead \"payments\" is full: no slot within 10ms"
    );
    assert_eq!(
        seen.variants_all_named("payments"),
        set(&["Admitted", "Queued", "Rejected"])
    );

    // The ready-made health check names the bulkhead in its details.
    #[cfg(feature = "health")]
    {
        use bulwark::health::{BulkheadCheck, Check};
        let (name, _) = reported(Check::new("slots", BulkheadCheck::new(bulkhead.clone()))).await;
        assert_eq!(name.as_deref(), Some("payments"));
    }
    let _ = release.send(());
    holder.await.unwrap().unwrap();
}

#[cfg(feature = "chaos")]
#[tokio::test(start_paused = true)]
async fn chaos_events_carry_the_name() {
    use bulwark::chaos::Chaos;
    let seen = Seen::default();
    let s = seen.clone();
    let chaos = Chaos::builder()
        .name("payments-chaos")
        .seed(7)
        .error(1.0, || "injected")
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    assert!(chaos.run(|| async { Ok::<_, &str>(()) }).await.is_err());
    assert_eq!(
        seen.variants_all_named("payments-chaos"),
        set(&["Injected"])
    );
}

#[cfg(feature = "rate-limit")]
#[tokio::test(start_paused = true)]
async fn rate_limit_events_carry_the_name() {
    use bulwark::rate_limit::RateLimiter;
    use std::time::Duration;
    let seen = Seen::default();
    let s = seen.clone();
    let limiter = RateLimiter::builder()
        .name("search-api")
        .rate(1, Duration::from_secs(1))
        .max_wait(Duration::from_secs(1))
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    // The first is admitted at once, the second waits its turn, the third is turned away.
    assert!(limiter.run(|| async { Ok::<_, &str>(()) }).await.is_ok());
    let mut waiting = Box::pin(limiter.run(|| async { Ok::<_, &str>(()) }));
    assert!(futures::poll!(waiting.as_mut()).is_pending());
    assert!(limiter.run(|| async { Ok::<_, &str>(()) }).await.is_err());
    assert!(waiting.await.is_ok());
    assert_eq!(
        seen.variants_all_named("search-api"),
        set(&["Rejected", "Waited"])
    );
}

#[cfg(feature = "hedge")]
#[tokio::test(start_paused = true)]
async fn hedge_events_carry_the_name() {
    use bulwark::hedge::Hedge;
    use bulwark::retry::RetryBudget;
    use std::time::Duration;
    let seen = Seen::default();
    let s = seen.clone();
    let budget = RetryBudget::builder()
        .ratio(0.0)
        .min_per_second(1)
        .window(Duration::from_secs(1))
        .build()
        .unwrap();
    let hedge = Hedge::builder()
        .name("search-replicas")
        .delay(Duration::from_millis(10))
        .budget(budget)
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    // The first call is hedged and the hedge wins; the second's hedge is refused.
    for _ in 0..2 {
        let mut attempt = 0;
        let out = hedge
            .run(|| {
                attempt += 1;
                let ms = if attempt == 1 { 50 } else { 1 };
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<_, &str>(())
                }
            })
            .await;
        assert!(out.is_ok());
    }
    assert_eq!(
        seen.variants_all_named("search-replicas"),
        set(&["Hedged", "HedgeWon", "BudgetExhausted"])
    );
}

#[cfg(all(feature = "fallback", feature = "rate-limit"))]
#[tokio::test(start_paused = true)]
async fn fallback_events_carry_the_name() {
    use bulwark::fallback::{Fallback, Reason};
    use bulwark::rate_limit::RateLimiter;
    use std::time::Duration;
    let seen = Seen::default();
    let (s, p) = (seen.clone(), seen.clone());
    let fallback = Fallback::builder(|_: Reason| 0)
        .name("cached-prices")
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    let panicking = Fallback::builder(|_: Reason| -> i32 { panic!("no value") })
        .name("cached-prices")
        .on_event(move |e| p.push(e, e.name()))
        .build()
        .unwrap();
    let limiter = RateLimiter::builder()
        .rate(1, Duration::from_secs(60))
        .build()
        .unwrap();
    limiter.try_acquire().unwrap();
    let limited = || Err::<i32, bulwark::Error<()>>(limiter.try_acquire().unwrap_err().into());
    assert_eq!(fallback.apply(limited()), Ok(0));
    assert!(panicking.apply(limited()).is_err());
    assert_eq!(
        seen.variants_all_named("cached-prices"),
        set(&["Used", "Panicked"])
    );
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn health_events_carry_the_aggregator_name() {
    use bulwark::health::{Check, Health, HealthAggregator};
    let seen = Seen::default();
    let s = seen.clone();
    let health = HealthAggregator::builder()
        .name("orders")
        .check(Check::from_fn("db", || async { Health::healthy() }))
        .on_event(move |e| s.push(e, e.name()))
        .build()
        .unwrap();
    health.report().await;
    assert_eq!(
        seen.variants_all_named("orders"),
        set(&["CheckChanged", "StatusChanged"])
    );
}

#[cfg(feature = "saga")]
#[tokio::test(start_paused = true)]
async fn saga_events_carry_the_definition_name() {
    use bulwark::BoxError;
    use bulwark::saga::{RetryPolicy, Saga, Step};
    let seen = Seen::default();
    let s = seen.clone();
    let mut b = Saga::<u32>::builder("order").on_event(move |e| s.push(e, e.name()));
    b.step(
        Step::new("reserve", |_ctx| async { Ok::<_, BoxError>(()) })
            .compensate(|_ctx| async { Ok::<_, BoxError>(()) }),
    );
    b.step(
        Step::new("charge", |_ctx| async {
            Err::<(), BoxError>("declined".into())
        })
        .retry(RetryPolicy::fixed(2, ms(5))),
    );
    let saga = b.build().unwrap();
    let _ = saga.run(1).await.unwrap();
    assert_eq!(
        seen.variants_all_named("order"),
        set(&[
            "Compensating",
            "CompensationCompleted",
            "CompensationStarted",
            "Finished",
            "SagaStarted",
            "StepCompleted",
            "StepFailed",
            "StepRetrying",
            "StepStarted",
        ])
    );
}

#[cfg(all(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead"
))]
#[tokio::test(start_paused = true)]
async fn a_pipeline_names_its_own_timeouts_after_itself() {
    use bulwark::pipeline::Pipeline;
    let pipeline = Pipeline::builder()
        .name("payments")
        .total_timeout(ms(100))
        .attempt_timeout(ms(10))
        .build()
        .unwrap();
    assert_eq!(pipeline.name(), "payments");
    let err = pipeline.run(pending::<Result<(), &str>>).await;
    let Err(bulwark::Error::Timeout(elapsed)) = err else {
        panic!("expected a timeout, got {err:?}")
    };
    assert_eq!(elapsed.name(), "payments.attempt_timeout");
}
