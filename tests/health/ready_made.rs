//! The ready-made checks: a circuit breaker's state and a bulkhead's saturation.
#![cfg(feature = "health")]

#[cfg(all(feature = "health", feature = "circuit-breaker"))]
mod breaker {
    use bulwark::circuit_breaker::CircuitBreaker;
    use bulwark::health::{Check, CircuitBreakerCheck, Detail, HealthAggregator, Status};
    use std::io;
    use std::time::Duration;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::builder()
            .count_window(4)
            .minimum_calls(4)
            .failure_rate_threshold(0.5)
            .open_duration(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    async fn trip(breaker: &CircuitBreaker) {
        for _ in 0..4 {
            let _ = breaker
                .run(|| async { Err::<(), _>(io::Error::other("refused")) })
                .await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn open_circuit_degrades_readiness_but_does_not_fail_it() {
        let payments = breaker();
        let health = HealthAggregator::builder()
            .cache_for(Duration::ZERO)
            .check(Check::new("payments", CircuitBreakerCheck::new(payments.clone())).readiness())
            .build()
            .unwrap();

        let report = health.report().await;
        assert_eq!(report.status(), Status::Healthy);
        let check = report.check("payments").unwrap();
        assert_eq!(check.details().get("state"), Some(&Detail::from("closed")));
        assert_eq!(
            check.details().get("failure_rate"),
            Some(&Detail::Float(0.0))
        );

        trip(&payments).await;
        let report = health.report().await;
        assert_eq!(
            report.status(),
            Status::Degraded,
            "an open circuit is not a dead instance"
        );
        let check = report.check("payments").unwrap();
        assert_eq!(check.message(), Some("circuit open"));
        assert_eq!(check.details().get("state"), Some(&Detail::from("open")));
        assert!(
            check.details().get("failure_rate").is_none(),
            "no window while open"
        );
        assert_eq!(check.details().get("rejected"), Some(&Detail::UInt(0)));

        payments.force_open();
        let check = health.report().await.check("payments").unwrap().clone();
        assert_eq!(
            check.details().get("state"),
            Some(&Detail::from("forced_open"))
        );
        assert_eq!(check.status(), Status::Degraded);

        payments.reset();
        assert_eq!(health.report().await.status(), Status::Healthy);
    }

    #[tokio::test(start_paused = true)]
    async fn open_circuit_is_unhealthy_only_when_configured() {
        let payments = breaker();
        let health = HealthAggregator::builder()
            .cache_for(Duration::ZERO)
            .check(Check::new(
                "payments",
                CircuitBreakerCheck::new(payments.clone()).when_open(Status::Unhealthy),
            ))
            .build()
            .unwrap();
        trip(&payments).await;
        assert_eq!(health.report().await.status(), Status::Unhealthy);
    }
}

#[cfg(all(feature = "health", feature = "bulkhead"))]
mod bulkhead {
    use bulwark::bulkhead::Bulkhead;
    use bulwark::health::{BulkheadCheck, Check, Detail, HealthAggregator, Status};
    use std::time::Duration;
    use tokio::sync::oneshot;

    /// Starts a call that holds its slot (or its queue place) until the sender is dropped.
    fn hold(bulkhead: &Bulkhead) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel::<()>();
        let run = bulkhead.run(move || async move {
            let _ = rx.await;
            Ok::<(), ()>(())
        });
        tokio::spawn(run);
        tx
    }

    async fn settle() {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn saturation_degrades_and_fails_only_past_the_configured_thresholds() {
        let pool = Bulkhead::builder()
            .max_concurrent(2)
            .max_queued(2)
            .build()
            .unwrap();
        let health = HealthAggregator::builder()
            .cache_for(Duration::ZERO)
            .check(Check::new(
                "pool",
                BulkheadCheck::new(pool.clone())
                    .degraded_at(0.75)
                    .unhealthy_at(1.0),
            ))
            .build()
            .unwrap();
        assert_eq!(health.report().await.status(), Status::Healthy);

        let mut held: Vec<_> = (0..3).map(|_| hold(&pool)).collect();
        settle().await;
        let report = health.report().await;
        let check = report.check("pool").unwrap();
        assert_eq!(check.status(), Status::Degraded);
        assert_eq!(
            check.details().get("saturation"),
            Some(&Detail::Float(0.75))
        );
        assert_eq!(check.details().get("in_flight"), Some(&Detail::UInt(2)));
        assert_eq!(check.details().get("queued"), Some(&Detail::UInt(1)));
        assert_eq!(check.message(), Some("bulkhead 75% saturated"));

        held.push(hold(&pool));
        settle().await;
        assert_eq!(health.report().await.status(), Status::Unhealthy);

        held.clear();
        settle().await;
        assert_eq!(health.report().await.status(), Status::Healthy);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bulkhead_is_degraded_not_unhealthy_by_default() {
        let pool = Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(0)
            .build()
            .unwrap();
        let health = HealthAggregator::builder()
            .check(Check::new("pool", BulkheadCheck::new(pool.clone())))
            .build()
            .unwrap();
        let _held = hold(&pool);
        settle().await;
        assert_eq!(health.report().await.status(), Status::Degraded);
    }
}
