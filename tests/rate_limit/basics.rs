//! Decisions through the standalone door on the paused clock; settings; events and metrics.

use crate::limiter;
use bulwark::Error;
use bulwark::rate_limit::{Event, RateLimiter};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::advance;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn a_full_burst_then_one_call_per_interval() {
    let l = limiter(10, Duration::from_secs(1), 3);
    for _ in 0..3 {
        assert!(l.try_acquire().is_ok());
    }
    assert_eq!(l.try_acquire().unwrap_err().retry_after(), 100 * MS);
    advance(99 * MS).await;
    assert_eq!(l.try_acquire().unwrap_err().retry_after(), MS);
    advance(MS).await;
    assert!(l.try_acquire().is_ok());
    assert!(l.try_acquire().is_err());
    let m = l.metrics();
    assert_eq!((m.admitted, m.rejected, m.waited), (4, 3, 0));
    assert_eq!(
        (m.interval, m.burst, m.max_wait),
        (100 * MS, 3, Duration::ZERO)
    );
}

#[tokio::test(start_paused = true)]
async fn the_burst_comes_back_after_an_idle_period_and_never_more() {
    let l = limiter(1, Duration::from_secs(1), 5);
    for _ in 0..5 {
        assert!(l.try_acquire().is_ok());
    }
    // Idle for days: still only the burst.
    advance(Duration::from_secs(3 * 86_400)).await;
    for _ in 0..5 {
        assert!(l.try_acquire().is_ok());
    }
    assert_eq!(
        l.try_acquire().unwrap_err().retry_after(),
        Duration::from_secs(1)
    );
    assert_eq!(l.retry_after(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_is_never_started_and_takes_nothing() {
    let l = limiter(1, Duration::from_secs(1), 1);
    assert_eq!(l.run(|| async { Ok::<_, ()>(1) }).await, Ok(1));
    let started = Arc::new(Mutex::new(false));
    let s = started.clone();
    let out = l
        .run(|| async move {
            *s.lock().unwrap() = true;
            Ok::<_, ()>(2)
        })
        .await;
    let Err(Error::RateLimited(limited)) = out else {
        panic!("expected a rejection, got {out:?}");
    };
    assert_eq!(limited.retry_after(), Duration::from_secs(1));
    assert_eq!(limited.to_string(), "rate limited: retry after 1s");
    assert!(!*started.lock().unwrap());
    // Rejections did not push the next turn back.
    for _ in 0..10 {
        assert!(l.try_acquire().is_err());
    }
    advance(Duration::from_secs(1)).await;
    assert!(l.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_calls_own_error_is_inner_and_still_spends_its_cell() {
    let l = limiter(1, Duration::from_secs(1), 1);
    assert_eq!(
        l.run(|| async { Err::<(), _>("boom") }).await,
        Err(Error::Inner("boom"))
    );
    assert!(l.try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn the_call_is_decided_at_its_first_poll_not_when_made() {
    let l = limiter(1, Duration::from_secs(1), 1);
    assert!(l.try_acquire().is_ok());
    let call = l.run(|| async { Ok::<_, ()>(()) });
    advance(Duration::from_secs(1)).await;
    assert_eq!(call.await, Ok(()));
}

#[test]
fn invalid_settings_name_the_field() {
    let field = |b: bulwark::rate_limit::Builder| b.build().unwrap_err().field().to_owned();
    assert_eq!(
        field(RateLimiter::builder().rate(0, Duration::from_secs(1))),
        "rate"
    );
    assert_eq!(
        field(RateLimiter::builder().rate(1, Duration::ZERO)),
        "rate"
    );
    assert_eq!(field(RateLimiter::builder().burst(0)), "burst");
    assert_eq!(
        field(
            RateLimiter::builder()
                .rate(1, Duration::from_secs(86_400 * 365))
                .burst(1_000)
        ),
        "burst"
    );
    let e = RateLimiter::builder().burst(0).build().unwrap_err();
    assert_eq!(e.pattern(), "rate_limit");
}

#[test]
fn a_rate_finer_than_a_nanosecond_is_one_per_nanosecond() {
    let l = RateLimiter::builder()
        .rate(u64::MAX, Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(l.metrics().interval, Duration::from_nanos(1));
}

#[tokio::test(start_paused = true)]
async fn events_say_when_a_call_is_rejected_and_when_one_waited() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let l = RateLimiter::builder()
        .name("search-api")
        .rate(1, Duration::from_secs(1))
        .max_wait(Duration::from_secs(1))
        .on_event(move |e| s.lock().unwrap().push(e.clone()))
        .on_event(|_| panic!("a faulty listener"))
        .build()
        .unwrap();
    assert_eq!(l.run(|| async { Ok::<_, ()>(()) }).await, Ok(()));
    assert_eq!(l.run(|| async { Ok::<_, ()>(()) }).await, Ok(()));
    assert!(l.run(|| async { Ok::<_, ()>(()) }).await.is_ok());
    // The fourth waits for its turn, 1 s away; the fifth's would be 2 s away: turned away.
    let out = l.run(|| async { Ok::<_, ()>(()) });
    let mut out = Box::pin(out);
    assert!(futures::poll!(out.as_mut()).is_pending());
    let fifth = l.run(|| async { Ok::<_, ()>(()) }).await;
    assert!(matches!(fifth, Err(Error::RateLimited(_))));
    drop(out);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Event::Waited {
                name: "search-api".into(),
                waited: Duration::from_secs(1)
            },
            Event::Waited {
                name: "search-api".into(),
                waited: Duration::from_secs(1)
            },
            Event::Rejected {
                name: "search-api".into(),
                retry_after: Duration::from_secs(2)
            },
        ]
    );
    let m = l.metrics();
    assert_eq!(
        (m.admitted, m.waited, m.rejected, m.cancelled),
        (3, 2, 1, 1)
    );
}
