//! A rate limiter of 5 calls per second with a burst of 3, first turning calls away, then
//! letting them wait for their turn: `cargo run --example rate_limit`.
//!
//! Time is tokio's paused clock: the waits take no real time.

use bulwark::Error;
use bulwark::rate_limit::{Event, RateLimiter};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Reject at once: a burst of six calls, three get in, three are told when to come back.
    let limiter = RateLimiter::builder()
        .rate(5, Duration::from_secs(1))
        .burst(3)
        .build()?;
    for i in 1..=6 {
        match limiter
            .run(|| async move { Ok::<_, std::io::Error>(i) })
            .await
        {
            Ok(i) => println!("call {i}: admitted"),
            Err(Error::RateLimited(limited)) => {
                println!("call {i}: {limited}");
            }
            Err(e) => println!("call {i}: failed: {e}"),
        }
    }
    println!("metrics: {:?}\n", limiter.metrics());

    // Wait up to half a second: the same burst is admitted, spread out at the steady rate.
    let waiting = RateLimiter::builder()
        .rate(5, Duration::from_secs(1))
        .burst(3)
        .max_wait(Duration::from_millis(500))
        .on_event(|e| {
            if let Event::Waited { waited, .. } = e {
                println!("  (waited {waited:?})");
            }
        })
        .build()?;
    let start = Instant::now();
    for i in 1..=6 {
        let result = waiting
            .run(|| async move { Ok::<_, std::io::Error>(i) })
            .await;
        let at = start.elapsed();
        match result {
            Ok(i) => println!("call {i}: admitted at {at:?}"),
            Err(e) => println!("call {i}: {e}"),
        }
    }
    let m = waiting.metrics();
    println!("metrics: {m:?}");
    assert_eq!((m.admitted, m.waited, m.rejected), (6, 3, 0));
    Ok(())
}
