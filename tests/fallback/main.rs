//! Fallbacks: each rejection kind replaced when chosen and passed through when not, classified
//! outcomes, a panicking fallback or classifier, events, both doors, allocations.
#![cfg(all(
    feature = "fallback",
    feature = "timeout",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit"
))]

mod alloc;
mod standalone;
#[path = "../common/mod.rs"]
mod support;
mod tower_door;

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::fallback::Reason;
use bulwark::rate_limit::RateLimiter;
use bulwark::timeout::Timeout;
use std::time::Duration;

pub(crate) const REJECTIONS: [Reason; 4] = [
    Reason::CircuitOpen,
    Reason::Timeout,
    Reason::BulkheadFull,
    Reason::RateLimited,
];

/// A real rejection of kind `reason`, as a standalone run returns it (on the paused clock).
pub(crate) async fn rejection(reason: Reason) -> Error<std::io::Error> {
    match reason {
        Reason::CircuitOpen => {
            let breaker = CircuitBreaker::builder().build().unwrap();
            breaker.force_open();
            breaker
                .run(|| async { Ok::<(), std::io::Error>(()) })
                .await
                .unwrap_err()
        }
        Reason::Timeout => {
            let slow = std::future::pending::<()>();
            Timeout::new(Duration::from_millis(10))
                .run(slow)
                .await
                .unwrap_err()
                .into()
        }
        Reason::BulkheadFull => {
            let bulkhead = Bulkhead::builder()
                .max_concurrent(1)
                .max_queued(0)
                .build()
                .unwrap();
            let held = bulkhead.run(std::future::pending::<Result<(), std::io::Error>>);
            let mut held = Box::pin(held);
            assert!(futures::poll!(held.as_mut()).is_pending());
            bulkhead
                .run(|| async { Ok::<(), std::io::Error>(()) })
                .await
                .unwrap_err()
        }
        Reason::RateLimited => {
            let limiter = RateLimiter::builder()
                .rate(1, Duration::from_secs(60))
                .build()
                .unwrap();
            limiter.try_acquire().unwrap();
            limiter.try_acquire().unwrap_err().into()
        }
        other => panic!("not a rejection: {other:?}"),
    }
}
