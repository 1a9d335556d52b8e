//! Retry: the standalone and tower doors, limits (attempts, time, budget), reissuing requests,
//! an open circuit, and allocations.
#![cfg(feature = "retry")]

mod alloc;
mod basics;
mod breaker;
mod common;
mod layer;
mod limits;
mod reissue;
#[path = "../common/mod.rs"]
mod support;
mod threads;
