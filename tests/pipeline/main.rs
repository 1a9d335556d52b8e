//! The pipeline: the four call-level patterns around one call, in order, and its HTTP preset.
#![cfg(all(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead"
))]

mod basics;
mod drop_order;
#[cfg(feature = "fallback")]
mod fallback;
#[cfg(feature = "http")]
mod http;
mod layer;
mod panics;
#[path = "../common/mod.rs"]
mod support;
mod threads;
