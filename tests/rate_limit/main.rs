//! The rate limiter: decisions on the paused clock, the window bound as a property, real
//! threads, waiting and cancellation, turns past the end of the clock, the tower contract,
//! allocations.
#![cfg(feature = "rate-limit")]

mod alloc;
mod basics;
mod clock_end;
mod layer;
#[path = "../common/mod.rs"]
mod support;
mod threads;
mod wait;
mod window;

use bulwark::rate_limit::RateLimiter;
use std::time::Duration;

/// `n` calls per `per`, `burst` at once, no wait.
pub(crate) fn limiter(n: u64, per: Duration, burst: u64) -> RateLimiter {
    RateLimiter::builder()
        .rate(n, per)
        .burst(burst)
        .build()
        .expect("valid settings")
}
