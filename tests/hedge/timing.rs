//! When hedges are sent, which answer wins, what becomes of the losers, and what failures do.

use crate::{Attempt, ms};
use bulwark::hedge::{Event, Hedge};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, advance};

type Out = Result<u32, io::Error>;

/// Spawns a hedged call whose attempt `i` answers after `plan[i]` (`None`: never) with `Ok(i)`
/// or, where `fail[i]`, an error. Returns the call's handle, the attempts made and the drops.
fn spawn_call(
    hedge: &Hedge,
    plan: Vec<Option<Duration>>,
    fail: Vec<bool>,
) -> (
    tokio::task::JoinHandle<Out>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
) {
    let (made, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (m, d) = (made.clone(), drops.clone());
    let hedge = hedge.clone();
    let call = tokio::spawn(async move {
        hedge
            .run(move || {
                let i = m.fetch_add(1, Ordering::SeqCst);
                let out = if fail.get(i).copied().unwrap_or(false) {
                    Err(io::Error::other(format!("attempt {i} failed")))
                } else {
                    Ok(i as u32)
                };
                Attempt::new(plan.get(i).copied().flatten(), out, &d)
            })
            .await
    });
    (call, made, drops)
}

fn hedge(delay: Duration, max: u32) -> Hedge {
    Hedge::builder()
        .delay(delay)
        .max_hedged_attempts(max)
        .no_budget()
        .build()
        .unwrap()
}

/// Lets spawned tasks run until they wait on the clock.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn hedge_is_sent_at_the_delay_and_not_before() {
    let h = hedge(ms(100), 1);
    let (call, made, _) = spawn_call(&h, vec![None, Some(ms(10))], vec![]);
    settle().await;
    assert_eq!(made.load(Ordering::SeqCst), 1, "the first attempt at once");
    advance(ms(100) - Duration::from_nanos(1)).await;
    settle().await;
    assert_eq!(made.load(Ordering::SeqCst), 1, "no hedge before the delay");
    advance(ms(1)).await;
    settle().await;
    assert_eq!(made.load(Ordering::SeqCst), 2, "the hedge at the delay");
    assert_eq!(call.await.unwrap().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn first_attempt_that_answers_in_time_sends_no_hedge() {
    let h = hedge(ms(100), 3);
    let start = Instant::now();
    let (call, made, _) = spawn_call(&h, vec![Some(ms(99))], vec![]);
    assert_eq!(call.await.unwrap().unwrap(), 0);
    assert_eq!(start.elapsed(), ms(99));
    assert_eq!(made.load(Ordering::SeqCst), 1);
    assert_eq!(h.metrics().hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn hedges_are_spaced_by_the_delay_and_never_exceed_the_cap() {
    let h = hedge(ms(50), 3);
    let (call, made, _) = spawn_call(&h, vec![None; 10], vec![]);
    // Walk the clock in 1 ms steps and watch the attempts made.
    let mut seen = Vec::new();
    for t in 0..=1_000u64 {
        settle().await;
        let n = made.load(Ordering::SeqCst);
        if seen.last().map(|&(_, m)| m) != Some(n) {
            seen.push((t, n));
        }
        advance(ms(1)).await;
    }
    assert_eq!(seen, [(0, 1), (50, 2), (100, 3), (150, 4)]);
    let m = h.metrics();
    assert_eq!((m.hedges, m.max_hedged_attempts), (3, 3));
    call.abort();
}

#[tokio::test(start_paused = true)]
async fn the_first_success_wins_and_the_losers_are_dropped_at_once() {
    let h = hedge(ms(10), 3);
    // Attempt 0 never answers, 1 answers at 10 + 100, 2 at 20 + 5 (first), 3 at 30 + 1 (later).
    let plan = vec![None, Some(ms(100)), Some(ms(5)), Some(ms(20))];
    let start = Instant::now();
    let (call, made, drops) = spawn_call(&h, plan, vec![]);
    assert_eq!(call.await.unwrap().unwrap(), 2);
    assert_eq!(start.elapsed(), ms(25));
    assert_eq!(made.load(Ordering::SeqCst), 3, "no hedge after the answer");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "the winner and both losers dropped"
    );
    assert_eq!(h.metrics().hedge_wins, 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_drops_every_attempt_in_flight() {
    let h = hedge(ms(10), 2);
    let (call, made, drops) = spawn_call(&h, vec![None; 3], vec![]);
    for _ in 0..3 {
        settle().await;
        advance(ms(10)).await;
    }
    settle().await;
    assert_eq!(made.load(Ordering::SeqCst), 3);
    call.abort();
    let _ = call.await;
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failure_while_others_are_in_flight_waits_for_them() {
    let h = hedge(ms(10), 1);
    // The first fails at 30, after the hedge was sent at 10; the hedge answers at 10 + 40.
    let start = Instant::now();
    let (call, _, _) = spawn_call(&h, vec![Some(ms(30)), Some(ms(40))], vec![true, false]);
    assert_eq!(call.await.unwrap().unwrap(), 1);
    assert_eq!(start.elapsed(), ms(50));
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_last_failure_is_returned() {
    let h = hedge(ms(10), 2);
    // Attempts sent at 0, 10, 20; they fail at 50, 10 + 15 = 25, 20 + 50 = 70.
    let plan = vec![Some(ms(50)), Some(ms(15)), Some(ms(50))];
    let start = Instant::now();
    let (call, _, _) = spawn_call(&h, plan, vec![true, true, true]);
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "attempt 2 failed");
    assert_eq!(start.elapsed(), ms(70));
}

#[tokio::test(start_paused = true)]
async fn a_failure_with_nothing_else_in_flight_ends_the_call_without_a_hedge() {
    let h = hedge(ms(100), 3);
    let start = Instant::now();
    let (call, made, _) = spawn_call(&h, vec![Some(ms(5))], vec![true]);
    assert_eq!(
        call.await.unwrap().unwrap_err().to_string(),
        "attempt 0 failed"
    );
    assert_eq!(start.elapsed(), ms(5));
    assert_eq!(made.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn events_name_the_hedge_and_the_attempt() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let h = Hedge::builder()
        .name("replicas")
        .delay(ms(10))
        .no_budget()
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let (call, _, _) = spawn_call(&h, vec![None, Some(ms(1))], vec![]);
    assert_eq!(call.await.unwrap().unwrap(), 1);
    let events = events.lock().unwrap().clone();
    let name = bulwark::Name::from("replicas");
    assert_eq!(
        events,
        [
            Event::Hedged {
                name,
                attempt: 2,
                after: ms(10)
            },
            Event::HedgeWon { name, attempt: 2 },
        ]
    );
    assert!(events.iter().all(|e| e.name().as_str() == "replicas"));
}

#[test]
fn settings_are_checked_by_build() {
    let field = |b: bulwark::hedge::Builder| b.build().unwrap_err().field().to_owned();
    assert_eq!(field(Hedge::builder().delay(Duration::ZERO)), "delay");
    assert_eq!(
        field(Hedge::builder().max_hedged_attempts(0)),
        "max_hedged_attempts"
    );
    assert_eq!(
        field(Hedge::builder().max_hedged_attempts(17)),
        "max_hedged_attempts"
    );
    for p in [0.0, -0.5, 1.5, f64::NAN] {
        let b = Hedge::builder().latency_percentile(p, Duration::from_secs(1));
        assert_eq!(field(b), "latency_percentile");
    }
    let b = Hedge::builder().latency_percentile(0.9, Duration::from_micros(10));
    assert_eq!(field(b), "latency_percentile");
    let b = Hedge::builder()
        .latency_percentile(0.9, Duration::from_secs(1))
        .min_samples(0);
    assert_eq!(field(b), "min_samples");
    assert!(Hedge::builder().max_hedged_attempts(16).build().is_ok());
}

#[tokio::test(start_paused = true)]
async fn hedges_are_still_sent_on_the_timer_after_a_failure() {
    let h = hedge(ms(10), 2);
    // Attempt 0 hangs; attempt 1 (sent at 10) fails at 12; attempt 2 is still sent at 20 and
    // answers at 25.
    let start = Instant::now();
    let (call, made, _) = spawn_call(&h, vec![None, Some(ms(2)), Some(ms(5))], vec![false, true]);
    assert_eq!(call.await.unwrap().unwrap(), 2);
    assert_eq!(start.elapsed(), ms(25));
    assert_eq!(made.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_refused_hedge_ends_the_hedging_of_that_call() {
    // One hedge in the budget (no share of the calls, a floor of 1 per second over 1 s).
    let budget = bulwark::retry::RetryBudget::builder()
        .ratio(0.0)
        .min_per_second(1)
        .window(Duration::from_secs(1))
        .build()
        .unwrap();
    let h = Hedge::builder()
        .delay(ms(10))
        .max_hedged_attempts(3)
        .budget(budget)
        .build()
        .unwrap();
    // Attempt 1 is sent at 10; attempt 2, due at 20, is refused; none is sent after it.
    let start = Instant::now();
    let (call, made, _) = spawn_call(&h, vec![Some(ms(100)), Some(ms(90))], vec![]);
    assert_eq!(call.await.unwrap().unwrap(), 0);
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(made.load(Ordering::SeqCst), 2);
    let m = h.metrics();
    assert_eq!((m.hedges, m.budget_exhausted), (1, 1));
}

/// The losers are dropped when the call answers, not later when its future is dropped.
#[tokio::test(start_paused = true)]
async fn the_losers_are_dropped_as_the_call_answers_not_with_its_future() {
    let h = hedge(ms(10), 2);
    let (made, drops) = (AtomicUsize::new(0), Arc::new(AtomicUsize::new(0)));
    let mut call = Box::pin(h.run(|| {
        let i = made.fetch_add(1, Ordering::SeqCst);
        // The first attempt never answers; the hedge does 5 ms after it is sent.
        let after = (i > 0).then_some(ms(5));
        Attempt::new(after, Ok::<_, io::Error>(i as u32), &drops)
    }));
    assert_eq!(call.as_mut().await.unwrap(), 1);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the first attempt is dropped"
    );
    drop(call);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// The `Debug` output of a call names its state and counts the attempts sent and the hedges in
/// flight.
#[tokio::test(start_paused = true)]
async fn the_debug_output_of_a_call_names_its_state_and_counts_its_attempts() {
    let h = hedge(ms(10), 1);
    let mut call = Box::pin(h.run(|| async {
        tokio::time::sleep(ms(20)).await;
        Ok::<_, ()>(())
    }));
    let debug = format!("{call:?}");
    assert!(debug.starts_with("Run { make: \""), "{debug}");
    let tail = |call: &dyn std::fmt::Debug| {
        let debug = format!("{call:?}");
        debug[debug.rfind("state: ").expect("a state")..].to_owned()
    };
    assert_eq!(
        tail(&call),
        r#"state: "not started", sent: 0, in_flight_hedges: 0 }"#
    );
    assert!(futures::poll!(call.as_mut()).is_pending());
    advance(ms(10)).await;
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(
        tail(&call),
        r#"state: "running", sent: 2, in_flight_hedges: 1 }"#
    );
    call.as_mut().await.unwrap();
    assert_eq!(
        tail(&call),
        r#"state: "done", sent: 2, in_flight_hedges: 0 }"#
    );
}
