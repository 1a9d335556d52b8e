//! The percentile delay follows the latencies recorded in the last full window.

use crate::ms;
use bulwark::hedge::Hedge;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{Instant, advance, sleep};

fn p90(window: Duration, min_samples: u64) -> Hedge {
    Hedge::builder()
        .latency_percentile(0.9, window)
        .min_samples(min_samples)
        .no_budget()
        .build()
        .unwrap()
}

/// One call through `h` whose only attempt takes `latency`.
async fn call(h: &Hedge, latency: Duration) {
    h.run(|| async move {
        sleep(latency).await;
        Ok::<_, ()>(())
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_call_is_hedged_before_a_window_with_enough_latencies() {
    let h = p90(Duration::from_secs(1), 10);
    assert_eq!(h.metrics().delay, None);
    for _ in 0..9 {
        call(&h, ms(10)).await;
    }
    advance(Duration::from_secs(1)).await;
    // Nine latencies in the last window: not enough; a slow call is not hedged.
    let made = AtomicUsize::new(0);
    h.run(|| {
        made.fetch_add(1, Ordering::SeqCst);
        async {
            sleep(ms(500)).await;
            Ok::<_, ()>(())
        }
    })
    .await
    .unwrap();
    assert_eq!(made.load(Ordering::SeqCst), 1);
    assert_eq!(h.metrics().delay, None);
}

#[tokio::test(start_paused = true)]
async fn the_delay_is_the_percentile_of_the_last_full_window() {
    let window = Duration::from_secs(10);
    let h = p90(window, 10);
    // 100 latencies: 90 of 10 ms, 10 of 200 ms: the p90 is 10 ms.
    for i in 0..100 {
        call(&h, if i % 10 == 0 { ms(200) } else { ms(10) }).await;
    }
    advance(window).await;
    call(&h, ms(1)).await; // rotates the window
    let delay = h.metrics().delay.expect("a delay");
    assert!(delay >= ms(10) && delay <= ms(10) * 9 / 8, "{delay:?}");

    // A call slower than the delay is hedged at it.
    let made = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let m = made.clone();
    let out = h
        .run(|| {
            let i = m.fetch_add(1, Ordering::SeqCst);
            async move {
                sleep(if i == 0 { ms(1_000) } else { ms(1) }).await;
                Ok::<_, ()>(i)
            }
        })
        .await;
    assert_eq!(out, Ok(1));
    // Sent at the delay, on tokio's millisecond timer: never before it, within 1 ms after.
    let hedge_sent = start.elapsed() - ms(1);
    assert!(
        hedge_sent >= delay && hedge_sent < delay + ms(1),
        "{hedge_sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_delay_moves_when_the_latencies_move() {
    let window = Duration::from_secs(5);
    let h = p90(window, 5);
    for _ in 0..20 {
        call(&h, ms(40)).await;
    }
    advance(window).await;
    call(&h, ms(100)).await;
    let first = h.metrics().delay.unwrap();
    assert!(first >= ms(40) && first <= ms(45), "{first:?}");
    // The next window's calls take 100 ms (the call above is in it too).
    for _ in 0..19 {
        call(&h, ms(100)).await;
    }
    advance(window).await;
    call(&h, ms(1)).await;
    let second = h.metrics().delay.unwrap();
    assert!(second >= ms(100) && second <= ms(113), "{second:?}");
    // A quiet window after that: nothing is known any more.
    advance(window * 2).await;
    call(&h, ms(1)).await;
    assert_eq!(h.metrics().delay, None);
}

/// Each window starts empty: the latencies of the window before the last count for nothing.
#[tokio::test(start_paused = true)]
async fn each_window_starts_empty() {
    let window = Duration::from_secs(5);
    let h = p90(window, 5);
    // Three windows of calls: 100 ms, then 40 ms, then 10 ms each.
    for latency in [ms(100), ms(40), ms(10)] {
        for _ in 0..20 {
            call(&h, latency).await;
        }
        advance(window).await;
    }
    call(&h, ms(1)).await; // rotates the window
    // The last full window held only 10 ms calls (the 100 ms ones were two windows back, in the
    // same one of the two counters).
    let delay = h.metrics().delay.expect("a delay");
    assert!(delay >= ms(10) && delay <= ms(10) * 9 / 8, "{delay:?}");
}

/// A quiet window forgets the delay, however many windows came before it.
#[tokio::test(start_paused = true)]
async fn a_quiet_window_forgets_the_delay_however_many_windows_came_before() {
    let window = Duration::from_secs(5);
    let h = p90(window, 5);
    for _ in 0..6 {
        for _ in 0..5 {
            call(&h, ms(20)).await;
        }
        advance(window).await;
    }
    call(&h, ms(1)).await;
    assert!(h.metrics().delay.is_some());
    // The window after that one passes with nothing recorded.
    advance(window * 2).await;
    call(&h, ms(1)).await;
    assert_eq!(h.metrics().delay, None);
}
