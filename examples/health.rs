//! A health aggregator over a circuit breaker and plain checks: what degrades a readiness
//! report and what does not fail it: `cargo run --example health`.

use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::health::{Check, CircuitBreakerCheck, Health, HealthAggregator, HealthReport, Tag};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn print(when: &str, report: &HealthReport) {
    println!("{when}: {:?}", report.status());
    for check in report.checks() {
        let message = check.message().unwrap_or("");
        println!("  {:<10} {:?} {message}", check.name(), check.status());
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payments = CircuitBreaker::builder().build()?;
    let search_up = Arc::new(AtomicBool::new(true));
    let search = search_up.clone();
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(Check::from_fn("database", || async { Ok::<(), std::io::Error>(()) }).readiness())
        .check(Check::new("payments", CircuitBreakerCheck::new(payments.clone())).readiness())
        // Optional: when it fails, readiness is at worst Degraded, never Unhealthy.
        .check(
            Check::from_fn("search", move || {
                let up = search.load(Ordering::Relaxed);
                async move {
                    if up {
                        Health::healthy()
                    } else {
                        Health::unhealthy("index offline")
                    }
                }
            })
            .readiness()
            .optional(),
        )
        .check(Check::from_fn("event-loop", || async { true }).liveness())
        .build()?;

    print("liveness", &health.report_for(Tag::Liveness).await);
    print("readiness", &health.report_for(Tag::Readiness).await);

    search_up.store(false, Ordering::Relaxed);
    print(
        "readiness, search down",
        &health.report_for(Tag::Readiness).await,
    );

    // An open breaker degrades readiness; it does not fail it (see `CircuitBreakerCheck`).
    search_up.store(true, Ordering::Relaxed);
    payments.force_open();
    print(
        "readiness, payments breaker open",
        &health.report_for(Tag::Readiness).await,
    );

    payments.reset();
    print(
        "readiness, all back",
        &health.report_for(Tag::Readiness).await,
    );
    Ok(())
}
