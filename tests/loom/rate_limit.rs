//! loom model of the rate limiter's admission: one compare-and-swap of the theoretical arrival
//! time per decision, so concurrent calls never take more cells than the burst holds, and none
//! is lost.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --test loom` (as `.ci/run`
//! does): the limiter's cell is then a loom atomic, and loom explores every interleaving of the
//! threads below. The clock is the real one, and the rate so slow (one per hour) that no cell
//! comes back while the model runs.
#![cfg(all(bulwark_loom, feature = "rate-limit"))]

use bulwark::rate_limit::RateLimiter;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn limiter(burst: u64) -> RateLimiter {
    RateLimiter::builder()
        .rate(1, Duration::from_secs(3_600))
        .burst(burst)
        .build()
        .unwrap()
}

/// `threads` threads (the model's main thread included) each try `tries` calls.
fn admitted(burst: u64, threads: usize, tries: usize) -> u32 {
    let l = limiter(burst);
    let admitted = Arc::new(AtomicU32::new(0));
    let try_all = |l: RateLimiter, admitted: Arc<AtomicU32>| {
        move || {
            for _ in 0..tries {
                if l.try_acquire().is_ok() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    };
    let handles: Vec<_> = (1..threads)
        .map(|_| loom::thread::spawn(try_all(l.clone(), admitted.clone())))
        .collect();
    try_all(l.clone(), admitted.clone())();
    for h in handles {
        h.join().unwrap();
    }
    let n = admitted.load(Ordering::SeqCst);
    assert_eq!(u64::from(n), l.metrics().admitted);
    n
}

#[test]
fn three_concurrent_calls_take_exactly_a_burst_of_two() {
    loom::model(|| assert_eq!(admitted(2, 3, 1), 2));
}

#[test]
fn two_threads_of_two_calls_take_exactly_a_burst_of_three() {
    loom::model(|| assert_eq!(admitted(3, 2, 2), 3));
}
