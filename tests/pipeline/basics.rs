//! The pipeline: timeout, retry, circuit breaker and bulkhead around one call, in order.
#![cfg(all(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead"
))]

use crate::support;

use bulwark::Error;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::pipeline::Pipeline;
use bulwark::retry::Retry;
use futures::FutureExt;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::time::{Instant, sleep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn no_jitter(d: Duration) -> Backoff {
    Backoff::constant(d).jitter(Jitter::None).build().unwrap()
}

/// `attempts` attempts, `backoff` apart, with no retry budget.
fn retries(attempts: u32, backoff: Duration) -> Retry {
    Retry::builder()
        .max_attempts(attempts)
        .backoff(no_jitter(backoff))
        .no_budget()
        .build()
        .unwrap()
}

fn breaker(consecutive: u32, open: Duration) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(consecutive)
        .open_duration(open)
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_absorb_transient_errors() {
    let pipeline = Pipeline::builder()
        .retry(
            Retry::builder()
                .max_attempts(3)
                .backoff(no_jitter(ms(10)))
                .build()
                .unwrap(),
        )
        .circuit_breaker(breaker(5, ms(1000)))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(io::Error::other("reset"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
    assert_eq!(out.unwrap(), 3);
    assert_eq!(pipeline.circuit_breaker().unwrap().metrics().failures, 2);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_a_breaker_failure_and_is_retried() {
    let pipeline = Pipeline::builder()
        .retry(
            Retry::builder()
                .max_attempts(2)
                .backoff(no_jitter(ms(1)))
                .build()
                .unwrap(),
        )
        .circuit_breaker(breaker(5, ms(1000)))
        .attempt_timeout(ms(100))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            let slow = calls.get() == 1;
            async move {
                if slow {
                    sleep(ms(500)).await;
                }
                Ok::<_, io::Error>("fast")
            }
        })
        .await;
    assert_eq!(out.unwrap(), "fast");
    let m = pipeline.circuit_breaker().unwrap().metrics();
    assert_eq!((m.calls, m.failures), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_bounds_every_attempt_and_sleep() {
    let pipeline = Pipeline::builder()
        .total_timeout(ms(250))
        .retry(
            Retry::builder()
                .max_attempts(10)
                .backoff(no_jitter(ms(100)))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let start = Instant::now();
    let out = pipeline
        .run(|| async { Err::<(), _>(io::Error::other("down")) })
        .await;
    match out {
        Err(Error::Timeout(e)) => assert_eq!(e.after(), ms(250)),
        other => panic!("expected the total timeout, got {other:?}"),
    }
    assert!(start.elapsed() <= ms(250));
}

/// A pipeline around `cb` with 3 attempts 1 ms apart, waiting for an open circuit up to `wait`.
fn around(cb: &CircuitBreaker, wait: Option<Duration>) -> Pipeline {
    let mut retry = Retry::builder()
        .max_attempts(3)
        .backoff(no_jitter(ms(1)))
        .no_budget();
    if let Some(wait) = wait {
        retry = retry.wait_for_open_circuit(wait);
    }
    Pipeline::builder()
        .retry(retry.build().unwrap())
        .circuit_breaker(cb.clone())
        .build()
        .unwrap()
}

/// Fails the first call, succeeds after; counts the calls.
fn first_fails(calls: &Cell<u32>) -> impl Future<Output = Result<&'static str, io::Error>> {
    calls.set(calls.get() + 1);
    let first = calls.get() == 1;
    async move {
        if first {
            Err(io::Error::other("boom"))
        } else {
            Ok("recovered")
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_fails_fast_by_default() {
    let cb = breaker(1, ms(300));
    let pipeline = around(&cb, None);
    let calls = Cell::new(0);
    let start = Instant::now();
    // Attempt 1 fails and opens the circuit; attempt 2 (after the 1 ms backoff) is rejected, and
    // the call ends with that rejection at once instead of waiting the 299 ms left.
    let out = pipeline.run(|| first_fails(&calls)).await;
    assert!(matches!(out, Err(Error::CircuitOpen(_))), "{out:?}");
    assert_eq!(calls.get(), 1);
    assert_eq!(start.elapsed(), ms(1), "only the backoff before attempt 2");
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_waited_out_when_asked_never_hammered() {
    let cb = breaker(1, ms(300));
    let pipeline = around(&cb, Some(ms(500)));
    let calls = Cell::new(0);
    let start = Instant::now();
    let out = pipeline.run(|| first_fails(&calls)).await;
    // Attempt 1 fails and opens the circuit; attempt 2 is rejected without a call and learns
    // when the circuit half-opens; attempt 3 waits that long and is the probe that closes it.
    assert_eq!(out.unwrap(), "recovered");
    assert_eq!(calls.get(), 2, "an attempt reached an open circuit's call");
    assert!(start.elapsed() >= ms(300));
    assert_eq!(cb.state(), State::Closed);

    // A circuit that stays open longer than the retry would wait: it gives up at once.
    let pipeline = around(&cb, Some(ms(100)));
    cb.force_open();
    cb.reset();
    calls.set(0);
    let out = pipeline.run(|| first_fails(&calls)).await;
    assert!(matches!(out, Err(Error::CircuitOpen(open)) if open.retry_after() == ms(299)));
    assert_eq!(calls.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_circuit_gives_up_at_once_without_calling() {
    let cb = breaker(5, ms(300));
    cb.force_open();
    let pipeline = Pipeline::builder()
        .retry(Retry::builder().max_attempts(5).build().unwrap())
        .circuit_breaker(cb)
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let start = Instant::now();
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            async { Ok::<_, io::Error>(()) }
        })
        .await;
    assert!(matches!(out, Err(Error::CircuitOpen(_))));
    assert_eq!(calls.get(), 0);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_rejects_and_the_breaker_ignores_it() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker(1, ms(1000)))
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let holder = pipeline.clone();
    let busy = tokio::spawn(async move {
        holder
            .run(|| async {
                sleep(ms(100)).await;
                Ok::<_, io::Error>(())
            })
            .await
    });
    tokio::task::yield_now().await;
    let out = pipeline.run(|| async { Ok::<_, io::Error>(()) }).await;
    assert!(matches!(out, Err(Error::BulkheadFull(_))));
    assert_eq!(pipeline.circuit_breaker().unwrap().state(), State::Closed);
    assert!(busy.await.unwrap().is_ok());
    assert_eq!(pipeline.circuit_breaker().unwrap().metrics().failures, 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_frees_its_bulkhead_slot() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker(3, ms(1000)))
        .bulkhead(bulkhead.clone())
        .attempt_timeout(ms(1000))
        .build()
        .unwrap();
    let mut hung = Box::pin(pipeline.run(std::future::pending::<Result<(), io::Error>>));
    assert!((&mut hung).now_or_never().is_none());
    assert_eq!(bulkhead.metrics().in_flight, 1);
    drop(hung);
    assert_eq!(bulkhead.metrics().in_flight, 0);
    assert!(
        pipeline
            .run(|| async { Ok::<_, io::Error>(1) })
            .await
            .is_ok()
    );
}

/// An adaptive (AIMD) bulkhead from 8 slots, at most `max_limit`, 4 may queue; and what its
/// limit changes were so far, `(from, to)`.
fn adaptive_bulkhead(max_limit: usize) -> (Bulkhead, impl Fn() -> Vec<(usize, usize)>) {
    use bulwark::bulkhead::{Aimd, Event};
    use std::sync::{Arc, Mutex};
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&changes);
    let limit = Aimd::builder()
        .initial_limit(8)
        .min_limit(1)
        .max_limit(max_limit)
        .backoff(0.5)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder()
        .adaptive(limit)
        .max_queued(4)
        .on_event(move |e| {
            if let Event::LimitChanged { from, to, .. } = e {
                log.lock().unwrap().push((*from, *to));
            }
        })
        .build()
        .unwrap();
    (bulkhead, move || changes.lock().unwrap().clone())
}

/// An adaptive bulkhead hears every attempt the pipeline ran through it, as the bulkhead's own
/// calls would tell it: a failed attempt (the breaker's verdict) lowers the limit, whether it took
/// a free slot at once or waited in the queue for one; a cancelled attempt tells it nothing.
#[tokio::test(start_paused = true)]
async fn an_adaptive_bulkhead_hears_each_attempts_verdict_but_not_a_cancelled_one() {
    let (bulkhead, changes) = adaptive_bulkhead(50);
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker(100, ms(1000)))
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let refused = || async { Err::<(), _>(io::Error::other("refused")) };
    let hang = || std::future::pending::<Result<(), io::Error>>();

    // Cancelled while it runs: the slot comes back, the limit hears nothing.
    let mut hung = Box::pin(pipeline.run(hang));
    assert!((&mut hung).now_or_never().is_none());
    assert_eq!(bulkhead.metrics().in_flight, 1);
    drop(hung);
    assert_eq!(bulkhead.metrics().in_flight, 0);
    assert_eq!(changes(), []);

    // A failed attempt on a free slot.
    let out = pipeline.run(refused).await;
    assert!(matches!(out, Err(Error::Inner(_))));
    assert_eq!(changes(), [(8, 4)]);
    assert_eq!(bulkhead.metrics().in_flight, 0);

    // A failed attempt that waited: four hung calls hold every slot, the fifth queues and gets
    // the slot of the first hung call cancelled (which reports nothing).
    let mut holders: Vec<_> = (0..4).map(|_| Box::pin(pipeline.run(hang))).collect();
    for h in &mut holders {
        assert!(h.now_or_never().is_none());
    }
    let mut waiting = Box::pin(pipeline.run(refused));
    assert!((&mut waiting).now_or_never().is_none());
    assert_eq!(bulkhead.metrics().queued, 1);
    drop(holders.remove(0));
    assert!(matches!(waiting.await, Err(Error::Inner(_))));
    assert_eq!(changes(), [(8, 4), (4, 2)]);
    drop(holders);
    let m = bulkhead.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0));
    assert_eq!(changes(), [(8, 4), (4, 2)]);
}

#[test]
fn invalid_settings_are_rejected_naming_the_field() {
    let err = Pipeline::builder()
        .total_timeout(ms(100))
        .attempt_timeout(ms(100))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid pipeline setting `attempt_timeout`")
    );
    let err = Pipeline::builder()
        .total_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("`total_timeout`"));
}

/// The four patterns with their defaults around `bulkhead`, a total and an attempt timeout.
pub(super) fn all_four(bulkhead: Bulkhead) -> Pipeline {
    Pipeline::builder()
        .total_timeout(Duration::from_secs(10))
        .retry(Retry::builder().max_attempts(3).build().unwrap())
        .circuit_breaker(CircuitBreaker::builder().build().unwrap())
        .bulkhead(bulkhead)
        .attempt_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[test]
fn no_allocation_per_call_on_the_success_path() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pipeline = all_four(Bulkhead::builder().max_concurrent(4).build().unwrap());
    let per_call = support::allocations_per_call(10, 1000, || {
        let out = pipeline
            .run(|| async { Ok::<_, io::Error>(7) })
            .now_or_never();
        assert!(matches!(out, Some(Ok(7))));
    });
    assert_eq!(per_call, 0.0);
}

#[tokio::test(start_paused = true)]
async fn the_closure_runs_only_after_the_breaker_and_the_bulkhead_admit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .retry(Retry::builder().max_attempts(1).build().unwrap())
        .circuit_breaker(breaker(5, ms(1000)))
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let invoked = Arc::new(AtomicU32::new(0));
    let call = |hold: Duration| {
        let (pipeline, invoked) = (pipeline.clone(), invoked.clone());
        async move {
            pipeline
                .run(|| {
                    invoked.fetch_add(1, Ordering::SeqCst);
                    async move {
                        sleep(hold).await;
                        Ok::<_, io::Error>(())
                    }
                })
                .await
        }
    };

    let holder = tokio::spawn(call(ms(500)));
    tokio::task::yield_now().await;
    assert_eq!(invoked.load(Ordering::SeqCst), 1);

    // Queued: its slot comes in 500 ms, and its closure must wait for it.
    let queued = tokio::spawn(call(Duration::ZERO));
    tokio::task::yield_now().await;
    assert_eq!(bulkhead.metrics().queued, 1);
    assert_eq!(
        invoked.load(Ordering::SeqCst),
        1,
        "a queued call was invoked"
    );

    // Turned away by the full bulkhead: never invoked.
    let out = call(Duration::ZERO).await;
    assert!(matches!(out, Err(Error::BulkheadFull(_))), "{out:?}");
    assert_eq!(
        invoked.load(Ordering::SeqCst),
        1,
        "a rejected call was invoked"
    );

    advance_by(ms(499)).await;
    assert_eq!(invoked.load(Ordering::SeqCst), 1);
    advance_by(ms(1)).await;
    holder.await.unwrap().unwrap();
    queued.await.unwrap().unwrap();
    assert_eq!(invoked.load(Ordering::SeqCst), 2);

    // Rejected by the breaker: never reaches the bulkhead, never invoked.
    pipeline.circuit_breaker().unwrap().force_open();
    let out = call(Duration::ZERO).await;
    assert!(matches!(out, Err(Error::CircuitOpen(_))));
    assert_eq!(invoked.load(Ordering::SeqCst), 2);
    assert_eq!(bulkhead.metrics().in_flight, 0);
}

/// Moves the paused clock and lets the woken tasks run.
async fn advance_by(d: Duration) {
    tokio::time::advance(d).await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Each attempt's slow-call time is its own (from its admission, queue wait included), not the
/// call's: a quick retry after a long backoff is not slow; with and without a total timeout
/// (which makes the call read the clock when it starts).
#[tokio::test(start_paused = true)]
async fn a_retrys_slow_call_time_counts_from_its_own_start() {
    for total in [None, Some(ms(10_000))] {
        let cb = CircuitBreaker::builder()
            .slow_call_threshold(ms(500), 1.0)
            .minimum_calls(100)
            .build()
            .unwrap();
        let mut b = Pipeline::builder()
            .retry(retries(2, ms(800)))
            .circuit_breaker(cb.clone());
        if let Some(total) = total {
            b = b.total_timeout(total);
        }
        let pipeline = b.build().unwrap();
        let calls = Cell::new(0);
        let out = pipeline
            .run(|| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    sleep(ms(100)).await;
                    if n == 1 {
                        Err(io::Error::other("reset"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(out.unwrap(), 2);
        let m = cb.metrics();
        assert_eq!((m.calls, m.slow_calls), (2, 0), "total {total:?}: {m:?}");
    }
}

/// The attempt timeout bounds the attempt, not its wait for a bulkhead slot: a call that waited
/// 80 ms in the queue and then ran for 50 ms is within an attempt timeout of 100 ms, whether or
/// not the call read the clock when it started (a total timeout makes it).
#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_starts_when_the_bulkhead_admits_the_attempt() {
    for total in [None, Some(ms(10_000))] {
        let mut b = Pipeline::builder()
            .bulkhead(
                Bulkhead::builder()
                    .max_concurrent(1)
                    .max_queued(1)
                    .build()
                    .unwrap(),
            )
            .attempt_timeout(ms(100));
        if let Some(total) = total {
            b = b.total_timeout(total);
        }
        let pipeline = b.build().unwrap();
        let first = pipeline.run(|| async {
            sleep(ms(80)).await;
            Ok::<_, io::Error>("first")
        });
        let second = pipeline.run(|| async {
            sleep(ms(50)).await;
            Ok::<_, io::Error>("second")
        });
        let start = Instant::now();
        let (a, b) = tokio::join!(first, second);
        assert_eq!(a.unwrap(), "first", "total {total:?}");
        assert_eq!(b.unwrap(), "second", "total {total:?}");
        assert_eq!(start.elapsed(), ms(130));
    }
}

/// A future pending until its gate opens, then `Ok(1)`.
struct Gate<'a>(&'a Cell<bool>);

impl Future for Gate<'_> {
    type Output = Result<u32, io::Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.0.get() {
            std::task::Poll::Ready(Ok(1))
        } else {
            std::task::Poll::Pending
        }
    }
}

/// A call that waits in the bulkhead's queue, with a `max_wait` and a total timeout, allocates
/// nothing: the queue's `max_wait` is timed by the call's one timer, not a timer of its own.
#[test]
fn a_call_that_waits_in_the_bulkheads_queue_allocates_nothing() {
    use std::task::{Context, Poll, Waker};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pipeline = all_four(
        Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .max_wait(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let per_call = support::allocations_per_call(10, 1000, || {
        let gate = Cell::new(false);
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = std::pin::pin!(pipeline.run(|| Gate(&gate)));
        let mut second = std::pin::pin!(pipeline.run(|| async { Ok::<_, io::Error>(2) }));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending(), "queued");
        assert_eq!(pipeline.bulkhead().unwrap().metrics().queued, 1);
        gate.set(true);
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(1))));
        assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(2))));
    });
    assert_eq!(per_call, 0.0);
}

/// The queue's `max_wait` and the total timeout are timed by the call's one timer: whichever
/// ends first ends the wait, at exactly its time, and the call leaves the queue (at a tie, the
/// inner bound: the queue's, as an attempt timeout wins a tie with the total deadline). A wait
/// the bulkhead ends is ignored by the breaker; a slot freed before either bound admits the call.
#[tokio::test(start_paused = true)]
async fn the_queues_max_wait_and_the_total_timeout_share_the_calls_timer() {
    // (max_wait, total timeout, how long the slot is held)
    for (max_wait, total, held) in [
        (ms(30), ms(100), ms(500)),
        (ms(100), ms(30), ms(500)),
        (ms(50), ms(50), ms(500)),
        (ms(100), ms(200), ms(50)),
    ] {
        let cb = CircuitBreaker::builder().build().unwrap();
        let bulkhead = Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .max_wait(max_wait)
            .build()
            .unwrap();
        let holder = Pipeline::builder()
            .bulkhead(bulkhead.clone())
            .build()
            .unwrap();
        let pipeline = Pipeline::builder()
            .total_timeout(total)
            .circuit_breaker(cb.clone())
            .bulkhead(bulkhead.clone())
            .build()
            .unwrap();
        let start = Instant::now();
        let hold = holder.run(|| async move {
            sleep(held).await;
            Ok::<_, io::Error>("held")
        });
        let wait = async {
            let out = pipeline
                .run(|| async { Ok::<_, io::Error>("waited") })
                .await;
            (out, start.elapsed(), bulkhead.metrics().queued)
        };
        let (held_out, (out, waited, queued)) = tokio::join!(hold, wait);
        assert_eq!(held_out.unwrap(), "held");
        let case = format!("max_wait {max_wait:?}, total {total:?}, held {held:?}");
        assert_eq!(queued, 0, "{case}: left the queue");
        if held < max_wait.min(total) {
            assert_eq!(out.unwrap(), "waited", "{case}");
            assert_eq!(waited, held, "{case}");
            assert_eq!(cb.metrics().calls, 1, "{case}");
        } else if max_wait <= total {
            match out {
                Err(Error::BulkheadFull(e)) => assert!(e.is_timed_out(), "{case}: {e:?}"),
                other => panic!("{case}: expected the bulkhead's max_wait, got {other:?}"),
            }
            assert_eq!(waited, max_wait, "{case}");
            assert_eq!(bulkhead.metrics().rejected_timed_out, 1, "{case}");
            assert_eq!(cb.metrics().calls, 0, "{case}: the breaker ignores it");
        } else {
            match out {
                Err(Error::Timeout(e)) => assert_eq!(e.after(), total, "{case}"),
                other => panic!("{case}: expected the total timeout, got {other:?}"),
            }
            assert_eq!(waited, total, "{case}");
            assert_eq!(bulkhead.metrics().rejected_timed_out, 0, "{case}");
        }
    }
}

/// Without a breaker, an adaptive bulkhead still hears each attempt's outcome: an `Err` is a
/// failure (the limit drops), an `Ok` a success (it does not).
#[tokio::test(start_paused = true)]
async fn without_a_breaker_an_adaptive_bulkhead_hears_an_err_as_a_failure() {
    let (bulkhead, changes) = adaptive_bulkhead(8);
    let pipeline = Pipeline::builder()
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    assert_eq!(
        pipeline
            .run(|| async { Ok::<_, io::Error>(1) })
            .await
            .unwrap(),
        1
    );
    assert_eq!(changes(), [], "a success at the maximum changes nothing");
    let out = pipeline
        .run(|| async { Err::<(), _>(io::Error::other("refused")) })
        .await;
    assert!(matches!(out, Err(Error::Inner(_))));
    assert_eq!(changes(), [(8, 4)], "an Err is a failure");
}

/// A total timeout of `total`, `attempts` attempts 10 ms apart through `cb`, each timed out
/// after 100 ms.
fn timed(total: Duration, attempts: u32, cb: &CircuitBreaker) -> Pipeline {
    Pipeline::builder()
        .total_timeout(total)
        .retry(retries(attempts, ms(10)))
        .circuit_breaker(cb.clone())
        .attempt_timeout(ms(100))
        .build()
        .unwrap()
}

/// The total timeout and the attempt timeout on one timer: an attempt that hangs is timed out
/// at its own end and retried (a breaker failure each time), until the total deadline ends the
/// call in the middle of an attempt, which is then abandoned (not recorded).
#[tokio::test(start_paused = true)]
async fn attempt_timeouts_are_retried_until_the_total_deadline_ends_the_call() {
    let cb = breaker(100, ms(1000));
    let pipeline = timed(ms(250), 10, &cb);
    let calls = Cell::new(0);
    let start = Instant::now();
    let out = pipeline
        .run(|| {
            calls.set(calls.get() + 1);
            std::future::pending::<Result<(), io::Error>>()
        })
        .await;
    match out {
        Err(Error::Timeout(e)) => assert_eq!(e.after(), ms(250)),
        other => panic!("expected the total timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), ms(250));
    // Attempts at 0, 110 and 220 ms: the first two timed out at 100 and 210.
    assert_eq!(calls.get(), 3);
    let m = cb.metrics();
    assert_eq!((m.calls, m.failures), (2, 2), "{m:?}");
}

/// A total timeout too long for the clock to represent is about thirty years, as
/// `tokio::time::sleep` makes it: two years on, the call is still waiting.
#[tokio::test(start_paused = true)]
async fn a_total_timeout_past_what_the_clock_holds_waits_about_thirty_years() {
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::MAX)
        .build()
        .unwrap();
    let mut call = Box::pin(pipeline.run(std::future::pending::<Result<(), io::Error>>));
    assert!((&mut call).now_or_never().is_none());
    tokio::time::advance(Duration::from_secs(2 * 365 * 86_400)).await;
    assert!((&mut call).now_or_never().is_none());
}

/// A call's `Debug` names its state and attempt, through each state it goes.
#[tokio::test(start_paused = true)]
async fn a_calls_debug_names_its_state_and_attempt() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .retry(retries(2, ms(10)))
        .bulkhead(bulkhead)
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let mut first = Box::pin(pipeline.run(|| {
        calls.set(calls.get() + 1);
        let n = calls.get();
        async move {
            if n == 1 {
                sleep(ms(5)).await;
                Err(io::Error::other("reset"))
            } else {
                Ok(n)
            }
        }
    }));
    assert_eq!(
        format!("{first:?}"),
        r#"Run { state: "admitting", attempt: 1 }"#
    );
    assert!((&mut first).now_or_never().is_none());
    assert_eq!(
        format!("{first:?}"),
        r#"Run { state: "attempting", attempt: 1 }"#
    );
    let mut second = Box::pin(pipeline.run(|| async { Ok::<_, io::Error>(0) }));
    assert!((&mut second).now_or_never().is_none());
    assert_eq!(
        format!("{second:?}"),
        r#"Run { state: "queued", attempt: 1 }"#
    );
    tokio::time::advance(ms(5)).await;
    assert!((&mut first).now_or_never().is_none());
    assert_eq!(
        format!("{first:?}"),
        r#"Run { state: "sleeping", attempt: 1 }"#
    );
    assert_eq!(second.await.unwrap(), 0);
    assert_eq!(first.await.unwrap(), 2);
    let no_retry = Pipeline::builder().build().unwrap();
    let mut done = Box::pin(no_retry.run(|| async { Ok::<_, io::Error>(1) }));
    assert!(matches!((&mut done).now_or_never(), Some(Ok(1))));
    assert_eq!(format!("{done:?}"), r#"Run { state: "done" }"#);
}

/// When an attempt's end and the total deadline fall at the same instant, the attempt timeout
/// wins the tie: the attempt is a failure (recorded by the breaker) and, with no attempt left,
/// the call ends with the attempt's timeout.
#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_wins_a_tie_with_the_total_deadline() {
    let cb = breaker(100, ms(1000));
    let pipeline = timed(ms(210), 2, &cb);
    let start = Instant::now();
    // Attempts at 0 and 110 ms; the second's end, 210 ms, is the total deadline.
    let out = pipeline
        .run(std::future::pending::<Result<(), io::Error>>)
        .await;
    match out {
        Err(Error::Timeout(e)) => assert_eq!(e.after(), ms(100), "{e:?}"),
        other => panic!("expected the attempt timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), ms(210));
    let m = cb.metrics();
    assert_eq!((m.calls, m.failures), (2, 2), "{m:?}");
}

/// A pipeline's open-circuit rejection is seen as one by a retry around the pipeline (through
/// `bulwark::Error<E>` for any `E`): with `wait_for_open_circuit`, the outer retry waits the
/// open period out instead of retrying into the open circuit.
#[tokio::test(start_paused = true)]
async fn a_retry_around_the_pipeline_sees_its_open_circuit() {
    // An error type of this test's own, so that no other test has made it known.
    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }
    impl std::error::Error for Refused {}
    let cb = breaker(1, ms(1000));
    let pipeline = Pipeline::builder()
        .circuit_breaker(cb.clone())
        .build()
        .unwrap();
    assert!(
        pipeline
            .run(|| async { Err::<(), _>(Refused) })
            .await
            .is_err()
    );
    assert_eq!(cb.state(), State::Open);
    let outer = Retry::builder()
        .max_attempts(3)
        .backoff(no_jitter(ms(10)))
        .wait_for_open_circuit(ms(2000))
        .no_budget()
        .build()
        .unwrap();
    let start = Instant::now();
    let out = outer
        .run(|_| pipeline.run(|| async { Ok::<_, Refused>(7) }))
        .await;
    assert_eq!(out.unwrap(), 7);
    assert_eq!(start.elapsed(), ms(1000), "the open period waited out");
}
