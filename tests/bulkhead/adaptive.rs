//! Adaptive limits: what moves the limit, by how much, within which bounds, and what does not.

use crate::support;

use bulwark::Error;
use bulwark::bulkhead::{Aimd, AimdBuilder, Bulkhead, Event, Vegas};
use futures::FutureExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

/// The limit changes a bulkhead announced, in order.
#[derive(Clone, Default)]
struct Changes(Arc<Mutex<Vec<(usize, usize)>>>);

impl Changes {
    fn listen(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let list = self.0.clone();
        move |e| {
            if let Event::LimitChanged { from, to, .. } = e {
                list.lock().unwrap().push((*from, *to));
            }
        }
    }

    fn all(&self) -> Vec<(usize, usize)> {
        self.0.lock().unwrap().clone()
    }
}

fn aimd(initial: usize) -> AimdBuilder {
    Aimd::builder()
        .initial_limit(initial)
        .min_limit(1)
        .max_limit(50)
}

fn with_changes(limit: impl Into<bulwark::bulkhead::AdaptiveLimit>) -> (Bulkhead, Changes) {
    let changes = Changes::default();
    let b = Bulkhead::builder()
        .name("payments")
        .adaptive(limit)
        .on_event(changes.listen())
        .build()
        .unwrap();
    (b, changes)
}

async fn ok(b: &Bulkhead) {
    b.run(|| async { Ok::<_, BoxError>(()) }).await.unwrap();
}

async fn fail(b: &Bulkhead) {
    let out = b.run(|| async { Err::<(), _>("refused") }).await;
    assert!(matches!(out, Err(Error::Inner("refused"))));
}

/// Runs `n` calls at once, each taking `latency`, failing if `failing`.
async fn wave(b: &Bulkhead, n: usize, latency: Duration, failing: bool) {
    let calls = (0..n).map(|_| {
        b.run(move || async move {
            tokio::time::sleep(latency).await;
            if failing { Err("refused") } else { Ok(()) }
        })
    });
    futures::future::join_all(calls).await;
}

#[tokio::test(start_paused = true)]
async fn aimd_failed_call_multiplies_the_limit_by_the_backoff_and_names_the_bulkhead() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let b = Bulkhead::builder()
        .name("payments")
        .adaptive(aimd(10).backoff(0.5).build().unwrap())
        .on_event(move |e| {
            if matches!(e, Event::LimitChanged { .. }) {
                log.lock().unwrap().push(e.clone());
            }
        })
        .build()
        .unwrap();
    fail(&b).await;
    assert_eq!(b.metrics().max_concurrent, 5);
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [Event::LimitChanged {
            name: "payments".into(),
            from: 10,
            to: 5
        }]
    );
    assert_eq!(seen[0].name().as_str(), "payments");
}

#[tokio::test(start_paused = true)]
async fn aimd_grows_by_one_per_round_that_used_at_least_half_the_limit() {
    let (b, changes) = with_changes(aimd(4).build().unwrap());
    // A round is `limit` calls: four at once, all well.
    wave(&b, 4, Duration::from_millis(10), false).await;
    assert_eq!(changes.all(), [(4, 5)]);
    // Five more, one at a time: the limit was never half used, so it stays.
    for _ in 0..5 {
        ok(&b).await;
    }
    assert_eq!(changes.all(), [(4, 5)]);
    // Ten at once: half of them are turned away (the bulkhead queues none), the five that run
    // make one round: one step, not two.
    wave(&b, 10, Duration::from_millis(10), false).await;
    assert_eq!(changes.all(), [(4, 5), (5, 6)]);
}

#[tokio::test(start_paused = true)]
async fn aimd_latency_threshold_counts_a_slow_call_as_a_drop() {
    let limit = aimd(8)
        .backoff(0.75)
        .latency_threshold(Duration::from_millis(100))
        .build()
        .unwrap();
    let (b, changes) = with_changes(limit);
    wave(&b, 1, Duration::from_millis(100), false).await;
    assert!(changes.all().is_empty(), "at the threshold is not over it");
    wave(&b, 1, Duration::from_millis(101), false).await;
    assert_eq!(changes.all(), [(8, 6)]);
}

#[tokio::test(start_paused = true)]
async fn calls_that_started_before_a_change_do_not_count_after_it() {
    let (b, changes) = with_changes(aimd(16).backoff(0.5).build().unwrap());
    // Eight calls fail together: they all ran under the old limit, so they lower it once.
    wave(&b, 8, Duration::from_millis(10), true).await;
    assert_eq!(changes.all(), [(16, 8)]);
    // A call that started after the change does count.
    fail(&b).await;
    assert_eq!(changes.all(), [(16, 8), (8, 4)]);
}

#[tokio::test(start_paused = true)]
async fn the_limit_stays_within_its_minimum_and_maximum() {
    let limit = Aimd::builder()
        .initial_limit(4)
        .min_limit(3)
        .max_limit(5)
        .backoff(0.1)
        .build()
        .unwrap();
    let (b, changes) = with_changes(limit);
    for _ in 0..5 {
        fail(&b).await;
    }
    assert_eq!(b.metrics().max_concurrent, 3);
    for _ in 0..10 {
        wave(&b, 5, Duration::from_millis(1), false).await;
    }
    assert_eq!(b.metrics().max_concurrent, 5);
    assert_eq!(changes.all(), [(4, 3), (3, 4), (4, 5)]);
    assert_eq!(b.metrics().adaptive, Some((3, 5)));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_not_reported() {
    let limit = aimd(8)
        .latency_threshold(Duration::from_millis(10))
        .build()
        .unwrap();
    let (b, changes) = with_changes(limit);
    let slow = b.run(|| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, BoxError>(())
    });
    // Given up on after 50 ms: slower than the threshold, but it never completed.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err()
    );
    assert_eq!(b.metrics().in_flight, 0);
    assert!(changes.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn vegas_grows_while_latency_stays_flat_and_shrinks_when_the_dependency_queues() {
    let (b, changes) = with_changes(Vegas::builder().initial_limit(10).build().unwrap());
    // Flat latency at full use: no queue at the dependency, so the limit grows a step a round.
    for _ in 0..3 {
        let limit = b.metrics().max_concurrent;
        wave(&b, limit, Duration::from_millis(100), false).await;
    }
    assert_eq!(changes.all(), [(10, 11), (11, 12), (12, 13)]);
    // The same load now takes three times as long: most of it is queueing, so it shrinks.
    wave(&b, 13, Duration::from_millis(300), false).await;
    assert_eq!(changes.all().last(), Some(&(13, 12)));
    // A failed call is one step down at once.
    fail(&b).await;
    assert_eq!(changes.all().last(), Some(&(12, 11)));
}

#[tokio::test(start_paused = true)]
async fn vegas_does_not_grow_a_limit_nobody_uses() {
    let (b, changes) = with_changes(Vegas::builder().initial_limit(10).build().unwrap());
    for _ in 0..100 {
        ok(&b).await;
    }
    assert!(changes.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_error_from_the_inner_service_is_a_drop_in_the_tower_door() {
    let (b, changes) = with_changes(aimd(10).backoff(0.5).build().unwrap());
    let mut svc = b.layer().layer(service_fn(|fail: bool| async move {
        if fail {
            Err::<(), BoxError>("unavailable".into())
        } else {
            Ok(())
        }
    }));
    svc.ready().await.unwrap().call(false).await.unwrap();
    assert!(changes.all().is_empty());
    svc.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(changes.all(), [(10, 5)]);
    // The same in backpressure mode, where the slot is taken by `poll_ready`.
    let mut svc = b.layer().backpressure().layer(service_fn(|()| async {
        Err::<(), BoxError>("unavailable".into())
    }));
    svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert_eq!(changes.all(), [(10, 5), (5, 2)]);
}

#[tokio::test(start_paused = true)]
async fn a_slot_reserved_by_poll_ready_and_never_called_is_not_reported() {
    let limit = aimd(10)
        .latency_threshold(Duration::from_millis(10))
        .build()
        .unwrap();
    let (b, changes) = with_changes(limit);
    let mut svc = b
        .layer()
        .backpressure()
        .layer(service_fn(|()| async { Ok::<_, BoxError>(()) }));
    svc.ready().await.unwrap();
    assert_eq!(b.metrics().in_flight, 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(svc);
    assert_eq!(b.metrics().in_flight, 0);
    assert!(changes.all().is_empty());
    // A reservation that is called is timed from its call, not from `poll_ready`.
    let mut svc = b
        .layer()
        .backpressure()
        .layer(service_fn(|()| async { Ok::<_, BoxError>(()) }));
    svc.ready().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    svc.call(()).await.unwrap();
    assert!(changes.all().is_empty());
    // And a call slower than the threshold is a drop, however long ago its slot was reserved.
    let mut svc = b.layer().backpressure().layer(service_fn(|()| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, BoxError>(())
    }));
    svc.ready().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    svc.call(()).await.unwrap();
    assert_eq!(changes.all(), [(10, 9)]);
}

#[tokio::test(start_paused = true)]
async fn set_max_concurrent_moves_an_adaptive_limit_which_carries_on_from_there() {
    let (b, changes) = with_changes(aimd(10).backoff(0.5).build().unwrap());
    b.set_max_concurrent(30).unwrap();
    assert_eq!(b.metrics().max_concurrent, 30);
    fail(&b).await;
    assert_eq!(b.metrics().max_concurrent, 15);
    assert_eq!(changes.all(), [(30, 15)]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_does_not_stop_the_limit_from_moving() {
    let b = Bulkhead::builder()
        .adaptive(aimd(10).backoff(0.5).build().unwrap())
        .on_event(|e| {
            if matches!(e, Event::LimitChanged { .. }) {
                panic!("listener bug");
            }
        })
        .build()
        .unwrap();
    fail(&b).await;
    fail(&b).await;
    let m = b.metrics();
    assert_eq!((m.max_concurrent, m.in_flight), (2, 0));
    ok(&b).await;
}

#[test]
fn invalid_adaptive_settings_are_refused_naming_the_field() {
    let field = |e: bulwark::ConfigError| (e.pattern(), e.field().to_owned());
    let aimd_err = |b: AimdBuilder| field(b.build().unwrap_err());
    assert_eq!(
        aimd_err(Aimd::builder().min_limit(0)),
        ("bulkhead", "min_limit".into())
    );
    assert_eq!(
        aimd_err(Aimd::builder().min_limit(10).max_limit(5)),
        ("bulkhead", "max_limit".into())
    );
    assert_eq!(
        aimd_err(Aimd::builder().max_limit(usize::MAX)),
        ("bulkhead", "max_limit".into())
    );
    // The largest limit a bulkhead holds is accepted, one more is not.
    let largest = usize::MAX >> 3;
    assert!(Aimd::builder().max_limit(largest).build().is_ok());
    assert_eq!(
        aimd_err(Aimd::builder().max_limit(largest + 1)),
        ("bulkhead", "max_limit".into())
    );
    assert_eq!(
        aimd_err(Aimd::builder().initial_limit(500)),
        ("bulkhead", "initial_limit".into())
    );
    for backoff in [0.0, 1.0, -0.5, f64::NAN, f64::INFINITY] {
        assert_eq!(
            aimd_err(Aimd::builder().backoff(backoff)),
            ("bulkhead", "backoff".into())
        );
    }
    assert_eq!(
        aimd_err(Aimd::builder().latency_threshold(Duration::ZERO)),
        ("bulkhead", "latency_threshold".into())
    );
    let vegas_err = |b: bulwark::bulkhead::VegasBuilder| field(b.build().unwrap_err());
    assert_eq!(
        vegas_err(Vegas::builder().alpha(0.0)),
        ("bulkhead", "alpha".into())
    );
    assert_eq!(
        vegas_err(Vegas::builder().alpha(f64::NAN)),
        ("bulkhead", "alpha".into())
    );
    assert_eq!(
        vegas_err(Vegas::builder().beta(3.0)),
        ("bulkhead", "beta".into())
    );
    assert_eq!(
        vegas_err(Vegas::builder().beta(f64::INFINITY)),
        ("bulkhead", "beta".into())
    );
    assert_eq!(
        vegas_err(Vegas::builder().initial_limit(0)),
        ("bulkhead", "initial_limit".into())
    );
}

#[test]
fn a_fixed_bulkhead_reports_no_adaptive_bounds() {
    let b = Bulkhead::builder().max_concurrent(3).build().unwrap();
    assert_eq!(b.metrics().adaptive, None);
    let b = Bulkhead::builder()
        .max_concurrent(3)
        .adaptive(aimd(7).build().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        (b.metrics().max_concurrent, b.metrics().adaptive),
        (7, Some((1, 50)))
    );
}

#[test]
fn adaptive_calls_allocate_nothing_even_when_the_limit_moves() {
    let b = Bulkhead::builder()
        .adaptive(aimd(4).backoff(0.5).build().unwrap())
        .build()
        .unwrap();
    let mut n = 0u32;
    let per_call = support::allocations_per_call(16, 1000, || {
        n += 1;
        // Mostly successes, a failure now and then: the limit goes down and back up.
        let failing = n.is_multiple_of(7);
        let out = b
            .run(|| async move { if failing { Err(n) } else { Ok(n) } })
            .now_or_never();
        assert!(matches!(out, Some(Ok(_) | Err(Error::Inner(_)))));
    });
    assert_eq!(per_call, 0.0);
}

/// A future pending at its first poll (without waking anyone), ready with `out` at the next.
struct SecondPoll(Option<Result<(), u32>>, bool);

impl std::future::Future for SecondPoll {
    type Output = Result<(), u32>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if std::mem::replace(&mut self.1, true) {
            std::task::Poll::Ready(self.0.take().unwrap_or(Ok(())))
        } else {
            std::task::Poll::Pending
        }
    }
}

#[test]
fn an_adaptive_limit_moving_under_eight_threads_loses_no_slot() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 20_000;
    let (min, max) = (2, 12);
    let limit = Aimd::builder()
        .initial_limit(6)
        .min_limit(min)
        .max_limit(max)
        .backoff(0.7)
        .build()
        .unwrap();
    let changes = Changes::default();
    let b = Bulkhead::builder()
        .adaptive(limit)
        .on_event(changes.listen())
        .build()
        .unwrap();
    let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (b, inside) = (b.clone(), inside.clone());
            s.spawn(move || {
                let waker = futures::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                let mut held = Vec::new();
                let mut state = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for i in 0..CALLS {
                    // xorshift: which calls fail, and how many each thread holds at once.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let out = if state % 13 == 0 { Err(1) } else { Ok(()) };
                    let count = inside.clone();
                    let mut call = Box::pin(b.run(move || {
                        // A lowered limit never lets more in than the highest it had.
                        let now = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        assert!(now <= max, "{now} calls inside");
                        SecondPoll(Some(out), false)
                    }));
                    match call.as_mut().poll(&mut cx) {
                        std::task::Poll::Pending => held.push(call),
                        std::task::Poll::Ready(r) => {
                            assert!(matches!(r, Err(Error::BulkheadFull(_))), "{r:?}")
                        }
                    }
                    if held.len() > (state % 4) as usize || i + 1 == CALLS {
                        for mut call in held.drain(..) {
                            inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            assert!(call.as_mut().poll(&mut cx).is_ready());
                        }
                    }
                }
            });
        }
    });
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0));
    assert!((min..=max).contains(&m.max_concurrent));
    assert!(changes.all().len() > 10, "the limit hardly moved");
    // Every slot is there, and no more: exactly `max_concurrent` calls get in at once.
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut held: Vec<_> = (0..m.max_concurrent)
        .map(|_| Box::pin(b.run(|| SecondPoll(Some(Ok(())), false))))
        .collect();
    for call in &mut held {
        assert!(call.as_mut().poll(&mut cx).is_pending());
    }
    let mut one_more = Box::pin(b.run(|| SecondPoll(Some(Ok(())), false)));
    assert!(matches!(
        one_more.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(Error::BulkheadFull(_)))
    ));
}

/// In a pipeline an attempt's outcome reaches an adaptive limit as the breaker judges it (an
/// `Err` without a breaker); an attempt the pipeline abandons (its total deadline) is not
/// reported, as a cancelled call is not.
#[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
#[tokio::test(start_paused = true)]
async fn in_a_pipeline_failed_attempts_are_drops_and_abandoned_ones_say_nothing() {
    use bulwark::circuit_breaker::CircuitBreaker;
    use bulwark::classify::Verdict;
    use bulwark::pipeline::Pipeline;
    use bulwark::retry::Retry;
    let (bulkhead, changes) = with_changes(aimd(10).backoff(0.5).build().unwrap());
    let once = || Retry::builder().max_attempts(1).build().unwrap();
    let pipeline = Pipeline::builder()
        .retry(once())
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let failed = pipeline.run(|| async { Err::<(), _>("refused") }).await;
    assert!(failed.is_err());
    assert_eq!(changes.all(), [(10, 5)], "an `Err` is a drop");

    // With a breaker, its classifier decides: an ignored outcome is no drop.
    let (bulkhead, changes) = with_changes(aimd(10).backoff(0.5).build().unwrap());
    let breaker = CircuitBreaker::builder()
        .classifier(|r: &Result<(), &str>| match r {
            Err("not found") => Verdict::Ignored,
            Err(_) => Verdict::Failure,
            Ok(_) => Verdict::Success,
        })
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .retry(once())
        .circuit_breaker(breaker)
        .bulkhead(bulkhead.clone())
        .total_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let _ = pipeline.run(|| async { Err::<(), _>("not found") }).await;
    assert!(changes.all().is_empty(), "ignored by the classifier");
    let hung = pipeline
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<(), &str>(())
        })
        .await;
    assert!(matches!(hung, Err(Error::Timeout(_))));
    assert!(
        changes.all().is_empty(),
        "an abandoned attempt says nothing"
    );
    assert_eq!(bulkhead.metrics().in_flight, 0, "its slot is back");
    let _ = pipeline.run(|| async { Err::<(), _>("refused") }).await;
    assert_eq!(
        changes.all(),
        [(10, 5)],
        "a failure by the classifier is a drop"
    );
}
