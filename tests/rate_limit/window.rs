//! The guarantee as a property: over random arrival sequences on the paused clock, no window of
//! any length admits more than `burst + n * len / per` calls; and the limiter admits exactly
//! what a sequential model of GCRA admits.

use crate::limiter;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Checks the bound on every window that starts and ends at an admission (the tightest ones).
/// `at` are nanoseconds, in any order.
fn assert_bound(mut at: Vec<u64>, n: u64, per: u64, burst: u64, slack: u64) {
    at.sort_unstable();
    for i in 0..at.len() {
        for j in i..at.len() {
            let count = (j - i + 1) as u128;
            let len = (at[j] - at[i] + slack) as u128;
            // count <= burst + n * len / per, in integers.
            assert!(
                count.saturating_sub(burst as u128) * per as u128 <= n as u128 * len,
                "{count} calls admitted within {len} ns (limit {n} per {per} ns, burst {burst})"
            );
        }
    }
}

/// A sequential GCRA over the same interval: what the limiter must admit.
fn model(arrivals: &[u64], interval: u64, burst: u64) -> Vec<bool> {
    let tau = (burst - 1) * interval;
    let mut tat = 0u64;
    arrivals
        .iter()
        .map(|&now| {
            if now + tau >= tat {
                tat = tat.max(now) + interval;
                true
            } else {
                false
            }
        })
        .collect()
}

const GREEDY: u64 = u64::MAX;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_window_admits_more_than_rate_times_length_plus_burst(
        n in 1u64..50,
        per_us in 1u64..2_000_000,
        burst in 1u64..8,
        // In microseconds; `GREEDY` waits exactly the limiter's `retry_after` (to the
        // nanosecond), as a client that comes back the moment it may.
        gaps in prop::collection::vec(
            prop_oneof![Just(0u64), Just(GREEDY), 0u64..50_000, 0u64..5_000_000],
            1..200,
        ),
    ) {
        let per = Duration::from_micros(per_us);
        let rt = paused_runtime();
        let (admitted, decisions, arrivals, interval) = rt.block_on(async {
            let l = limiter(n, per, burst);
            let start = Instant::now();
            let mut admitted = Vec::new();
            let mut decisions = Vec::new();
            let mut arrivals = Vec::new();
            for gap in gaps {
                let gap = if gap == GREEDY { l.retry_after() } else { Duration::from_micros(gap) };
                tokio::time::advance(gap).await;
                let now = (Instant::now() - start).as_nanos() as u64;
                arrivals.push(now);
                let ok = l.try_acquire().is_ok();
                decisions.push(ok);
                if ok {
                    admitted.push(now);
                }
            }
            (admitted, decisions, arrivals, l.metrics().interval.as_nanos() as u64)
        });
        prop_assert_eq!(decisions, model(&arrivals, interval, burst));
        assert_bound(admitted, n, per.as_nanos() as u64, burst, 0);
    }

    /// Waiting calls count at the instant they start, which tokio's timer rounds up to the next
    /// millisecond: the bound holds with a millisecond of slack on the window.
    #[test]
    fn waiting_calls_keep_the_bound_too(
        n in 1u64..20,
        per_ms in 1u64..2_000,
        burst in 1u64..5,
        max_wait_ms in 0u64..3_000,
        gaps in prop::collection::vec(prop_oneof![Just(0u64), 0u64..20, 0u64..2_000], 1..60),
    ) {
        let per = Duration::from_millis(per_ms);
        let rt = paused_runtime();
        let started = rt.block_on(async {
            let l = bulwark::rate_limit::RateLimiter::builder()
                .rate(n, per)
                .burst(burst)
                .max_wait(Duration::from_millis(max_wait_ms))
                .build()
                .unwrap();
            let start = Instant::now();
            let started = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for gap in gaps {
                // A sleep, not `advance`: the clock then stops at every waiter's timer on the
                // way, so each waiter starts at its own instant.
                tokio::time::sleep(Duration::from_millis(gap)).await;
                let started = started.clone();
                let call = l.run(move || async move {
                    started.lock().unwrap().push((Instant::now() - start).as_nanos() as u64);
                    Ok::<_, ()>(())
                });
                let mut call = Box::pin(call);
                // Decided now, at its arrival.
                if futures::poll!(call.as_mut()).is_pending() {
                    tasks.push(tokio::spawn(call));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
            let m = l.metrics();
            let started = started.lock().unwrap().clone();
            assert_eq!(m.admitted as usize, started.len());
            started
        });
        assert_bound(started, n, per.as_nanos() as u64, burst, 1_000_000);
    }
}
