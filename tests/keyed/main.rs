//! Keyed policies: per-key isolation, first use, borrowed lookups, the bound on real threads,
//! eviction order (LRU and idle) on the paused clock, instances that may not be evicted yet,
//! events, metrics and health, the tower contract, allocations, and a model of the map.
#![cfg(all(
    feature = "keyed",
    feature = "circuit-breaker",
    feature = "rate-limit",
    feature = "bulkhead",
    feature = "timeout",
    feature = "retry"
))]

mod alloc;
mod eviction;
mod isolation;
mod layer;
mod model;
mod observe;
#[path = "../common/mod.rs"]
mod support;
mod threads;

use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::rate_limit::RateLimiter;
use std::time::Duration;

/// A breaker that opens after two consecutive failures, for `open` each time.
pub(crate) fn breaker(open: Duration) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_duration(open)
        .build()
        .expect("valid settings")
}

/// One call per `per`, no burst, no wait.
pub(crate) fn limiter(per: Duration) -> RateLimiter {
    RateLimiter::builder()
        .rate(1, per)
        .build()
        .expect("valid settings")
}

pub(crate) async fn fail(
    keyed: &bulwark::keyed::Keyed<String, CircuitBreaker>,
    key: &str,
) -> Result<(), bulwark::Error<std::io::Error>> {
    keyed
        .run(key, || async { Err(std::io::Error::other("down")) })
        .await
}

pub(crate) async fn succeed(
    keyed: &bulwark::keyed::Keyed<String, CircuitBreaker>,
    key: &str,
) -> Result<(), bulwark::Error<std::io::Error>> {
    keyed.run(key, || async { Ok(()) }).await
}
