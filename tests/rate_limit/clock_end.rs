//! Turns past the end of the clock's range: on a paused clock advanced to within years (or a
//! second) of the last instant `Instant` holds, a call whose turn lies beyond it is turned away,
//! nothing panics, and the turn is given back for the calls after it.
//!
//! So close to the end, tokio's timer fires every sleep at once (its millisecond ticks stop
//! counting far earlier), so these tests check what each call is told, never when one runs.

use bulwark::Error;
use bulwark::rate_limit::{Event, RateLimited, RateLimiter};
use futures::FutureExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// The longest duration that can be added to `Instant::now()`, to the nanosecond.
fn left_on_the_clock() -> Duration {
    let now = Instant::now();
    let fits = |d: Duration| now.checked_add(d).is_some();
    let (mut lo, mut hi) = (0_u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(Duration::from_secs(mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let (mut nlo, mut nhi) = (0_u32, 999_999_999);
    while nlo < nhi {
        let mid = nlo + (nhi - nlo).div_ceil(2);
        if fits(Duration::new(lo, mid)) {
            nlo = mid;
        } else {
            nhi = mid - 1;
        }
    }
    Duration::new(lo, nlo)
}

/// Advances the paused clock until exactly `left` is left before the last instant.
async fn advance_to_the_end_but(left: Duration) {
    tokio::time::advance(left_on_the_clock() - left).await;
    assert_eq!(left_on_the_clock(), left);
}

/// `1` call per `per`, a burst of 1, no bound on the wait, its events recorded.
fn limiter(per: Duration) -> (RateLimiter, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let l = RateLimiter::builder()
        .rate(1, per)
        .max_wait(Duration::MAX)
        .on_event({
            let events = events.clone();
            move |e| events.lock().unwrap().push(e.clone())
        })
        .build()
        .unwrap();
    (l, events)
}

fn limited<T: std::fmt::Debug>(out: Option<Result<T, Error<()>>>) -> RateLimited {
    match out {
        Some(Err(Error::RateLimited(limited))) => limited,
        other => panic!("expected a rejection at once, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_past_the_end_of_the_clock_is_turned_away_with_its_wait() {
    // Ten years left, a turn twenty away: less than the thirty years tokio's own far future
    // (`sleep(Duration::MAX)`) would add.
    advance_to_the_end_but(10 * YEAR).await;
    let (l, events) = limiter(20 * YEAR);
    l.run(|| async { Ok::<_, ()>(1) }).await.unwrap();
    let second = l.run(|| async { Ok::<_, ()>(2) }).now_or_never();
    assert_eq!(limited(second).retry_after(), 20 * YEAR);
    let m = l.metrics();
    assert_eq!(
        (m.admitted, m.rejected, m.waited, m.cancelled),
        (1, 1, 0, 0)
    );
    let events = events.lock().unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Rejected { retry_after, .. }] if *retry_after == 20 * YEAR
        ),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_turn_turned_away_at_the_end_of_the_clock_is_given_back() {
    advance_to_the_end_but(10 * YEAR).await;
    let (l, events) = limiter(4 * YEAR);
    l.run(|| async { Ok::<_, ()>(0) }).await.unwrap();
    // Turns 4 and 8 years away fit: both calls are scheduled (each decided at its first poll).
    let mut waiting = Vec::new();
    for i in 1..=2 {
        let mut call = Box::pin(l.run(move || async move { Ok::<_, ()>(i) }));
        match futures::poll!(call.as_mut()) {
            std::task::Poll::Ready(out) => assert_eq!(out, Ok(i)),
            std::task::Poll::Pending => waiting.push(call),
        }
    }
    // The next, 12 years away, does not: turned away, and its turn given back, so every later
    // call is told the same 12 years (not 16, as if the turn were still held).
    let third = l.run(|| async { Ok::<_, ()>(3) }).now_or_never();
    assert_eq!(limited(third).retry_after(), 12 * YEAR);
    assert_eq!(l.retry_after(), 12 * YEAR);
    assert_eq!(l.try_acquire().unwrap_err().retry_after(), 12 * YEAR);
    let fourth = l.run(|| async { Ok::<_, ()>(4) }).now_or_never();
    assert_eq!(limited(fourth).retry_after(), 12 * YEAR);
    for call in waiting {
        call.await.unwrap();
    }
    let m = l.metrics();
    assert_eq!(
        (m.admitted, m.waited, m.rejected, m.cancelled),
        (3, 2, 3, 0)
    );
    let waits: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Waited { waited, .. } => Some(*waited),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [4 * YEAR, 8 * YEAR]);
}

#[tokio::test(start_paused = true)]
async fn a_turn_within_a_millisecond_of_the_end_is_turned_away() {
    // The instant itself exists, but tokio's timer rounds a deadline up to the next whole
    // millisecond, past the end.
    advance_to_the_end_but(Duration::from_secs(1)).await;
    let per = Duration::from_millis(999) + Duration::from_micros(500);
    let (l, _) = limiter(per);
    l.run(|| async { Ok::<_, ()>(1) }).await.unwrap();
    let second = l.run(|| async { Ok::<_, ()>(2) }).now_or_never();
    assert_eq!(limited(second).retry_after(), per);
    assert_eq!(l.retry_after(), per);
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.cancelled), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn the_tower_door_turns_a_turn_past_the_end_away_in_its_future() {
    advance_to_the_end_but(10 * YEAR).await;
    let (l, _) = limiter(20 * YEAR);
    let mut svc = l
        .layer()
        .layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
    let err = svc.ready().await.unwrap().call(2).await.unwrap_err();
    let limited = err.downcast_ref::<RateLimited>().expect("RateLimited");
    assert_eq!(limited.retry_after(), 20 * YEAR);
    assert_eq!(l.retry_after(), 20 * YEAR);
}
