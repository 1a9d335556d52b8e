//! Test support shared by the integration tests: `#[path = "../common/mod.rs"] mod support;` in a
//! test binary.
//!
//! The `allocation-counter` dev-dependency installs a counting global allocator in every test
//! binary; [`allocations`] counts what one closure allocates on the current thread.
#![allow(dead_code)]

/// Heap allocations made by `f` on the current thread (other threads are not counted).
pub(crate) fn allocations<R>(f: impl FnOnce() -> R) -> u64 {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    drop(out);
    info.count_total
}

/// Heap allocations per call of `call`, over `n` calls after `warmup` calls that are not counted
/// (the first calls may fill lazily initialised state: thread locals, timer slots).
pub(crate) fn allocations_per_call(warmup: usize, n: usize, mut call: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        call();
    }
    let total = allocations(|| {
        for _ in 0..n {
            call();
        }
    });
    total as f64 / n as f64
}
