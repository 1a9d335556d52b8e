//! Waiting for a turn: up to `max_wait`, in order, and what a dropped waiter gives back.

use bulwark::Error;
use bulwark::rate_limit::RateLimiter;
use futures::FutureExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

fn waiting(n: u64, per: Duration, max_wait: Duration) -> RateLimiter {
    RateLimiter::builder()
        .rate(n, per)
        .max_wait(max_wait)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_call_waits_for_its_turn_when_it_is_within_max_wait() {
    let l = waiting(1, SEC, 2 * SEC);
    let start = Instant::now();
    let mut turns = Vec::new();
    for _ in 0..3 {
        l.run(|| async { Ok::<_, ()>(()) }).await.unwrap();
        turns.push(Instant::now() - start);
    }
    assert_eq!(turns, [Duration::ZERO, SEC, 2 * SEC]);
    let m = l.metrics();
    assert_eq!((m.admitted, m.waited, m.rejected), (3, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_turn_is_beyond_max_wait_is_turned_away_at_once() {
    let l = waiting(1, SEC, 2 * SEC);
    let start = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|i| Box::pin(l.run(move || async move { Ok::<_, ()>(i) })))
        .collect();
    let mut pending = Vec::new();
    for mut call in calls {
        match (&mut call).now_or_never() {
            Some(Err(Error::RateLimited(limited))) => {
                // Turns at 0 s, 1 s and 2 s are taken; the next would be at 3 s.
                assert_eq!(limited.retry_after(), 3 * SEC);
                assert_eq!(Instant::now(), start, "turned away without waiting");
            }
            Some(other) => assert_eq!(other, Ok(0)),
            None => pending.push(call),
        }
    }
    assert_eq!(pending.len(), 2);
    let order = futures::future::join_all(pending).await;
    assert_eq!(order, [Ok(1), Ok(2)]);
    assert_eq!(l.metrics().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_the_order_they_were_decided() {
    let l = waiting(10, SEC, 10 * SEC);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let order = order.clone();
        let mut call = Box::pin(l.run(move || async move {
            order.lock().unwrap().push(i);
            Ok::<_, ()>(())
        }));
        // Decide each in this order, then let them run on their own tasks.
        if futures::poll!(call.as_mut()).is_pending() {
            tasks.push(tokio::spawn(call));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_last_waiter_gives_its_turn_back() {
    let l = waiting(1, SEC, 5 * SEC);
    assert!(l.try_acquire().is_ok());
    let mut waiter = Box::pin(l.run(|| async { Ok::<_, ()>(()) }));
    assert!(futures::poll!(waiter.as_mut()).is_pending());
    assert_eq!(l.retry_after(), 2 * SEC);
    drop(waiter);
    // As if it had never come: the next turn is 1 s away again.
    assert_eq!(l.retry_after(), SEC);
    tokio::time::advance(SEC).await;
    assert!(l.try_acquire().is_ok());
    let m = l.metrics();
    assert_eq!((m.admitted, m.waited, m.cancelled), (2, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_with_a_later_one_behind_it_leaves_its_turn_unused() {
    let l = waiting(1, SEC, 5 * SEC);
    assert!(l.try_acquire().is_ok());
    let mut first = Box::pin(l.run(|| async { Ok::<_, ()>(1) }));
    assert!(futures::poll!(first.as_mut()).is_pending());
    let mut second = Box::pin(l.run(|| async { Ok::<_, ()>(2) }));
    assert!(futures::poll!(second.as_mut()).is_pending());
    drop(first);
    // The second keeps its turn at 2 s; the first's turn at 1 s is not handed to anyone.
    assert_eq!(l.retry_after(), 3 * SEC);
    let start = Instant::now();
    assert_eq!(second.await, Ok(2));
    assert_eq!(Instant::now() - start, 2 * SEC);
    assert_eq!(l.metrics().cancelled, 1);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_after_its_turn_came_but_before_it_ran_gives_back_only_if_last() {
    let l = waiting(1, SEC, 5 * SEC);
    assert!(l.try_acquire().is_ok());
    let mut waiter = Box::pin(l.run(|| async { Ok::<_, ()>(()) }));
    assert!(futures::poll!(waiter.as_mut()).is_pending());
    tokio::time::advance(3 * SEC).await;
    drop(waiter);
    // Its turn (1 s) passed unused and was given back: at 3 s the full burst of 1 is there.
    assert!(l.try_acquire().is_ok());
    assert!(l.try_acquire().is_err());
}

/// The `Debug` output of a call names its state: deciding (before its first poll), running,
/// waiting for its turn, done.
#[tokio::test(start_paused = true)]
async fn the_debug_output_of_a_call_names_its_state() {
    fn state(debug: String) -> String {
        let (_, state) = debug.split_once("state: ").expect("a state field");
        state.trim_end_matches(" }").to_owned()
    }
    let l = waiting(1, SEC, SEC);
    let mut first = Box::pin(l.run(|| async {
        tokio::time::sleep(SEC / 2).await;
        Ok::<_, ()>(1)
    }));
    let debug = format!("{first:?}");
    assert!(debug.starts_with("Run { call: \""), "{debug}");
    assert_eq!(state(debug), "\"deciding\"");
    assert!((&mut first).now_or_never().is_none());
    assert_eq!(state(format!("{first:?}")), "\"running\"");
    let mut second = Box::pin(l.run(|| async { Ok::<_, ()>(2) }));
    assert!((&mut second).now_or_never().is_none());
    assert_eq!(state(format!("{second:?}")), "\"waiting\"");
    assert_eq!(first.as_mut().await.unwrap(), 1);
    assert_eq!(state(format!("{first:?}")), "\"done\"");
    assert_eq!(second.await.unwrap(), 2);
}
