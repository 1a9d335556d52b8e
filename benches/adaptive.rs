//! Adaptive concurrency limits: bulwark's bulkhead with AIMD and Vegas beside its fixed limit, a
//! pass-through baseline and tower-resilience's adaptive limiter, in the same run. The rows are
//! in `overhead/adaptive.rs`, which `instructions.rs` also drives under callgrind.

use criterion::{criterion_group, criterion_main};

#[path = "overhead/adaptive.rs"]
mod adaptive;
#[allow(dead_code, reason = "helpers of the other overhead rows")]
#[path = "overhead/support.rs"]
mod support;

criterion_group!(benches, adaptive::bench);
criterion_main!(benches);
