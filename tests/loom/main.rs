//! loom models: the circuit breaker's admission and transitions, the retry budget's withdrawals,
//! the bulkhead's semaphore, the rate limiter's admission.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --all-features --test loom` (as
//! `.ci/run` does); without that cfg the binary is empty.

mod bulkhead;
mod circuit_breaker;
mod rate_limit;
mod retry_budget;
