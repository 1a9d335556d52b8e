//! Per-call overhead of each bulwark layer beside a pass-through baseline and tower's own middleware,
//! measured in the same run.
//!
//! Rows are grouped per pattern (one module each). "contended/N" rows run N tasks on a
//! multi-thread runtime, each making calls through its own clone of one shared service; the figure
//! is wall time divided by the calls of one task, so with no contention it equals the single-task
//! figure.

use criterion::{criterion_group, criterion_main};

mod bulkhead;
mod circuit_breaker;
mod retry;
mod stack;
mod support;
mod timeout;

criterion_group!(
    benches,
    timeout::bench,
    circuit_breaker::bench,
    bulkhead::bench,
    retry::bench,
    stack::bench
);
criterion_main!(benches);
