//! The circuit breaker under real threads, and its allocation count.

use crate::support;

use bulwark::Error;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use futures::FutureExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt, service_fn};

const TASKS: usize = 32;
const PROBES: u32 = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// A breaker that half-opens at the first call after tripping.
fn half_opening() -> CircuitBreaker {
    CircuitBreaker::builder()
        .count_window(4)
        .minimum_calls(1)
        .open_duration(Duration::ZERO)
        .permitted_calls_in_half_open(PROBES)
        .build()
        .unwrap()
}

async fn trip(b: &CircuitBreaker) {
    let _ = b.run(|| async { Err::<(), _>("down") }).await;
    assert_eq!(b.state(), State::Open);
}

async fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        tokio::task::yield_now().await;
    }
}

#[test]
fn probes_in_flight_never_exceed_the_permitted_number_under_racing_threads() {
    runtime().block_on(async {
        let b = half_opening();
        for round in 0..50 {
            trip(&b).await;
            let in_flight = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let attempted = Arc::new(AtomicUsize::new(0));
            let release = Arc::new(AtomicBool::new(false));
            let mut tasks = Vec::new();
            for _ in 0..TASKS {
                let (b, in_flight, max) = (b.clone(), in_flight.clone(), max.clone());
                let (attempted, release) = (attempted.clone(), release.clone());
                tasks.push(tokio::spawn(async move {
                    let r = b
                        .run(|| async {
                            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(now, Ordering::SeqCst);
                            attempted.fetch_add(1, Ordering::SeqCst);
                            wait_until(|| release.load(Ordering::SeqCst)).await;
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, &str>(())
                        })
                        .await;
                    if r.is_err() {
                        attempted.fetch_add(1, Ordering::SeqCst);
                    }
                    r.is_ok()
                }));
            }
            wait_until(|| attempted.load(Ordering::SeqCst) == TASKS).await;
            assert_eq!(b.metrics().probes_in_flight, PROBES, "round {round}");
            release.store(true, Ordering::SeqCst);
            let mut admitted = 0;
            for t in tasks {
                admitted += usize::from(t.await.unwrap());
            }
            assert_eq!(max.load(Ordering::SeqCst), PROBES as usize, "round {round}");
            assert_eq!(admitted, PROBES as usize, "round {round}");
            assert_eq!(b.state(), State::Closed, "round {round}");
        }
    });
}

#[test]
fn breaker_whose_probes_are_all_dropped_does_not_get_stuck() {
    runtime().block_on(async {
        let b = half_opening();
        for _ in 0..20 {
            trip(&b).await;
            let started = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..TASKS {
                let (b, started) = (b.clone(), started.clone());
                tasks.push(tokio::spawn(async move {
                    let r = b
                        .run(|| async {
                            started.fetch_add(1, Ordering::SeqCst);
                            std::future::pending::<Result<(), &str>>().await
                        })
                        .await;
                    assert!(matches!(r, Err(Error::CircuitOpen(_))));
                }));
            }
            wait_until(|| started.load(Ordering::SeqCst) == PROBES as usize).await;
            for t in &tasks {
                t.abort();
            }
            for t in tasks {
                let _ = t.await;
            }
            assert_eq!(b.metrics().probes_in_flight, 0);
            assert_eq!(b.state(), State::HalfOpen);
            for _ in 0..PROBES {
                b.run(|| async { Ok::<_, &str>(()) }).await.unwrap();
            }
            assert_eq!(b.state(), State::Closed);
        }
    });
}

#[test]
fn count_window_totals_never_drift_under_racing_recorders_and_resets() {
    const WINDOW: u32 = 64;
    let b = CircuitBreaker::builder()
        .count_window(WINDOW)
        .slow_call_threshold(Duration::from_nanos(1), 1.0)
        .build()
        .unwrap();
    b.metrics_only();
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let mut workers = Vec::new();
        for t in 0..4u64 {
            let b = b.clone();
            workers.push(s.spawn(move || {
                let mut x = t + 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let fail = x % 3 == 0;
                    let _ = b
                        .run(|| async move { if fail { Err("down") } else { Ok(()) } })
                        .now_or_never();
                }
            }));
        }
        let (b, stop2) = (b.clone(), stop.clone());
        s.spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                b.metrics_only();
                std::thread::yield_now();
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    // Whatever interleaving happened, one thread's WINDOW + 16 successes leave exactly WINDOW
    // successes: no count drifted away from the ring's content.
    let b2 = b.clone();
    std::thread::spawn(move || {
        for _ in 0..WINDOW + 16 {
            b2.run(|| async { Ok::<_, &str>(()) })
                .now_or_never()
                .unwrap()
                .unwrap();
        }
    })
    .join()
    .unwrap();
    let m = b.metrics();
    assert_eq!((m.calls, m.failures), (WINDOW, 0), "{m:?}");
}

/// A seeded outcome for call number `k`: about one in three fails.
fn fails(seed: u64, k: u64) -> bool {
    let mut x = seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x.is_multiple_of(3)
}

#[test]
fn count_window_holds_exactly_the_last_n_calls_whatever_thread_records_them() {
    // Three threads take turns (a token passed through channels), so calls never overlap but
    // every call is recorded on a different thread from the one before. After every call the
    // window must equal a plain model of the last n calls. Sizes cover 1 to well past any
    // per-thread block of positions (the old design reserved 32 at a time).
    const THREADS: usize = 3;
    let sizes: Vec<u32> = (1..=40).chain([63, 64, 65, 100]).collect();
    for size in sizes {
        let b = CircuitBreaker::builder()
            .count_window(size)
            .build()
            .unwrap();
        b.metrics_only();
        let calls = 3 * u64::from(size) + 20;
        let model = std::sync::Mutex::new(std::collections::VecDeque::new());
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
            .map(|_| std::sync::mpsc::channel::<u64>())
            .unzip();
        std::thread::scope(|s| {
            for (t, rx) in receivers.into_iter().enumerate() {
                let next = senders[(t + 1) % THREADS].clone();
                let (b, model) = (&b, &model);
                s.spawn(move || {
                    while let Ok(k) = rx.recv() {
                        if k == calls {
                            let _ = next.send(k);
                            return;
                        }
                        let fail = fails(u64::from(size), k);
                        let _ = b
                            .run(|| async move { if fail { Err("down") } else { Ok(()) } })
                            .now_or_never()
                            .unwrap();
                        let mut model = model.lock().unwrap();
                        model.push_back(fail);
                        if model.len() > size as usize {
                            model.pop_front();
                        }
                        let expected_failures = model.iter().filter(|f| **f).count() as u32;
                        let m = b.metrics();
                        assert_eq!(
                            (m.calls, m.failures),
                            (model.len() as u32, expected_failures),
                            "window of {size}, after call {k} (recorded on thread {t})"
                        );
                        drop(model);
                        let _ = next.send(k + 1);
                    }
                });
            }
            senders[0].send(0).unwrap();
            // Only the threads hold senders now: if one fails, the others see their channels
            // close and stop, and the failure is reported instead of hanging.
            drop(senders);
        });
    }
}

#[test]
fn count_window_of_ten_opens_at_exactly_the_fifth_failure_after_five_successes_across_threads() {
    // count_window(10), 50 %, minimum 10: after 5 successes, the 5th failure in a row makes the
    // window 5 of 10. Each call runs in its own task on a multi-thread runtime, so consecutive
    // calls are recorded on whichever worker picked the task up.
    let rt = runtime();
    for trial in 0..200 {
        let opened_at = rt.block_on(async {
            let b = CircuitBreaker::builder()
                .count_window(10)
                .failure_rate_threshold(0.5)
                .minimum_calls(10)
                .build()
                .unwrap();
            for _ in 0..5 {
                let b = b.clone();
                tokio::spawn(async move { b.run(|| async { Ok::<_, &str>(()) }).await })
                    .await
                    .unwrap()
                    .unwrap();
            }
            let mut failures = 0;
            while b.state() == State::Closed && failures < 20 {
                failures += 1;
                let b = b.clone();
                let _ = tokio::spawn(async move { b.run(|| async { Err::<(), _>("down") }).await })
                    .await
                    .unwrap();
            }
            failures
        });
        assert_eq!(opened_at, 5, "trial {trial}");
    }
}

#[test]
fn closed_state_calls_do_not_allocate() {
    for b in [
        CircuitBreaker::builder().build().unwrap(),
        CircuitBreaker::builder()
            .time_window(Duration::from_secs(10))
            .build()
            .unwrap(),
    ] {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let per_call = support::allocations_per_call(100, 1_000, || {
            let r = b.run(|| async { Ok::<_, &str>(1) }).now_or_never();
            assert_eq!(r, Some(Ok(1)));
        });
        assert_eq!(per_call, 0.0, "run");
        let mut svc = b
            .layer()
            .layer(service_fn(|x: u64| async move { Ok::<_, &str>(x) }));
        let per_call = support::allocations_per_call(100, 1_000, || {
            svc.ready().now_or_never().unwrap().unwrap();
            let r = svc.call(7).now_or_never().unwrap();
            assert_eq!(r.unwrap(), 7);
        });
        assert_eq!(per_call, 0.0, "tower");
    }
}

#[test]
fn rejected_calls_do_not_allocate() {
    let b = CircuitBreaker::builder().build().unwrap();
    b.force_open();
    let per_call = support::allocations_per_call(10, 1_000, || {
        let r = b
            .run(|| async { Ok::<_, &str>(()) })
            .now_or_never()
            .unwrap();
        assert!(matches!(r, Err(Error::CircuitOpen(_))));
    });
    assert_eq!(per_call, 0.0);
}
