//! Keyed policies with 1, 1,000 and 100,000 keys held, beside the same policy unkeyed and
//! governor's keyed limiter, in one run.
//!
//! Groups:
//! - `keyed/decide`: one admitted rate-limit decision for a key already held, no service:
//!   `unkeyed` (one limiter's `try_acquire`, the floor), bulwark's `Keyed::get(&str)` then
//!   `try_acquire`, and governor's `check_key(&String)` (a `DashMap` of cells), for 1, 1,000
//!   and 100,000 keys, visited in turn.
//! - `keyed/tower`: one call through a tower stack on a current-thread runtime, the key read
//!   from the request: the pass-through baseline, the unkeyed rate limiter and breaker, and their
//!   keyed forms for 1, 1,000 and 100,000 keys.
//!
//! Every key is inserted before timing starts (and `max_keys` is twice the keys, so no shard
//! evicts): the figures are for keys already held, the hot path. The limits are so generous that
//! every call is admitted.

#[path = "overhead/support.rs"]
#[allow(dead_code)]
mod support;

use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::keyed::{Keyed, Policy};
use bulwark::rate_limit::RateLimiter;
use criterion::{Criterion, criterion_group};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use support::{Echo, current_thread, single_row};
use tower::Layer;

const GENEROUS: u64 = 1_000_000_000;
const SIZES: [usize; 3] = [1, 1_000, 100_000];

fn limiter() -> RateLimiter {
    RateLimiter::builder()
        .rate(GENEROUS, Duration::from_secs(1))
        .burst(GENEROUS)
        .build()
        .expect("limiter")
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder().build().expect("breaker")
}

/// `n` keys, for the life of the bench (the tower door's key function borrows them).
fn keys(n: usize) -> &'static [String] {
    Box::leak((0..n).map(|i| format!("tenant-{i:06}")).collect())
}

/// A keyed `template` holding every key of `keys`.
fn keyed<P: Policy>(template: P, keys: &[String]) -> Keyed<String, P> {
    let keyed = Keyed::builder(template)
        .max_keys(keys.len() * 2)
        .build()
        .expect("keyed");
    for k in keys {
        keyed.get(k.as_str()).expect("room");
    }
    assert_eq!(keyed.metrics().keys, keys.len());
    keyed
}

fn governor(keys: &[String]) -> governor::DefaultKeyedRateLimiter<String> {
    let n = NonZeroU32::new(u32::MAX).expect("non-zero");
    let gov = governor::RateLimiter::keyed(governor::Quota::per_second(n).allow_burst(n));
    for k in keys {
        let _ = gov.check_key(k);
    }
    gov
}

/// Times `iters` decisions of `decide(i)`.
fn decisions(iters: u64, mut decide: impl FnMut(usize) -> bool) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        std::hint::black_box(decide(i as usize));
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyed/decide");
    let l = limiter();
    g.bench_function("unkeyed", |b| {
        b.iter_custom(|n| decisions(n, |_| l.try_acquire().is_ok()))
    });
    for n in SIZES {
        let ks = keys(n);
        let k = keyed(limiter(), ks);
        g.bench_function(format!("bulwark-{n}"), |b| {
            b.iter_custom(|iters| {
                decisions(iters, |i| {
                    k.get(ks[i % n].as_str())
                        .is_ok_and(|l| l.try_acquire().is_ok())
                })
            })
        });
        let gov = governor(ks);
        g.bench_function(format!("governor-{n}"), |b| {
            b.iter_custom(|iters| decisions(iters, |i| gov.check_key(&ks[i % n]).is_ok()))
        });
    }
    g.finish();

    let rt = current_thread();
    let group = "keyed/tower";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    single_row(
        &mut g,
        group,
        &rt,
        "rate_limit",
        limiter().layer().layer(Echo),
    );
    for n in SIZES {
        let ks = keys(n);
        let k = keyed(limiter(), ks);
        let svc = k
            .layer(move |r: &u64| ks[*r as usize % n].as_str())
            .layer(Echo);
        single_row(&mut g, group, &rt, &format!("keyed-rate_limit-{n}"), svc);
    }
    single_row(&mut g, group, &rt, "breaker", breaker().layer().layer(Echo));
    for n in SIZES {
        let ks = keys(n);
        let k = keyed(breaker(), ks);
        let svc = k
            .layer(move |r: &u64| ks[*r as usize % n].as_str())
            .layer(Echo);
        single_row(&mut g, group, &rt, &format!("keyed-breaker-{n}"), svc);
    }
    g.finish();
}

criterion_group!(benches, bench);

/// `KEYED_ROW=<row> KEYED_CALLS=<n>`: makes `n` calls of one row and exits, for instruction
/// counts under callgrind (run at `n` and `2n`; the difference over `n` is the cost of one call):
/// the `keyed/decide` rows `unkeyed`, `bulwark-<keys>`, `governor-<keys>`, and the `keyed/tower`
/// rows `tower_baseline`, `tower_rate_limit`, `tower_keyed_rate_limit-<keys>`, `tower_breaker`,
/// `tower_keyed_breaker-<keys>`.
fn decide_only() -> bool {
    let (Ok(row), Ok(calls)) = (std::env::var("KEYED_ROW"), std::env::var("KEYED_CALLS")) else {
        return false;
    };
    let calls: usize = calls.parse().expect("KEYED_CALLS: a number");
    let (kind, n) = match row.split_once('-') {
        Some((kind, n)) => (kind, n.parse::<usize>().expect("a number of keys")),
        None => (row.as_str(), 1),
    };
    let ks = keys(n);
    let admitted = match kind {
        "unkeyed" => {
            let l = limiter();
            (0..calls).filter(|_| l.try_acquire().is_ok()).count()
        }
        "bulwark" => {
            let k = keyed(limiter(), ks);
            (0..calls)
                .filter(|i| {
                    k.get(ks[i % n].as_str())
                        .is_ok_and(|l| l.try_acquire().is_ok())
                })
                .count()
        }
        "governor" => {
            let gov = governor(ks);
            (0..calls)
                .filter(|i| gov.check_key(&ks[i % n]).is_ok())
                .count()
        }
        tower => {
            let rt = current_thread();
            let calls = calls as u64;
            match tower {
                "tower_baseline" => support::single(&rt, calls, &mut Echo),
                "tower_rate_limit" => {
                    support::single(&rt, calls, &mut limiter().layer().layer(Echo))
                }
                "tower_breaker" => support::single(&rt, calls, &mut breaker().layer().layer(Echo)),
                "tower_keyed_rate_limit" => {
                    let k = keyed(limiter(), ks);
                    let mut svc = k
                        .layer(move |r: &u64| ks[*r as usize % n].as_str())
                        .layer(Echo);
                    support::single(&rt, calls, &mut svc)
                }
                "tower_keyed_breaker" => {
                    let k = keyed(breaker(), ks);
                    let mut svc = k
                        .layer(move |r: &u64| ks[*r as usize % n].as_str())
                        .layer(Echo);
                    support::single(&rt, calls, &mut svc)
                }
                other => panic!("no row {other}"),
            };
            0
        }
    };
    std::hint::black_box(admitted);
    true
}

fn main() {
    if decide_only() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
