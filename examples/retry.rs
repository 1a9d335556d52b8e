//! Retries with exponential backoff, a time limit for retrying, and the events they raise:
//! `cargo run --example retry`.
//!
//! Time is tokio's paused clock: the backoff delays take no real time.

use bulwark::backoff::{Backoff, Jitter};
use bulwark::retry::{Event, Retry};
use std::time::Duration;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let retry = Retry::builder()
        .max_attempts(4)
        .stop_retrying_after(Duration::from_secs(5))
        .backoff(
            Backoff::exponential(Duration::from_millis(100))
                .jitter(Jitter::None)
                .build()?,
        )
        .on_event(|event| match event {
            Event::Retrying { attempt, delay, .. } => {
                println!("  attempt {attempt} failed; next in {delay:?}")
            }
            Event::GaveUp {
                name,
                attempts,
                reason,
            } => {
                println!(
                    "  {name} gave up after {attempts} attempts: {}",
                    reason.as_str()
                )
            }
            _ => {}
        })
        .build()?;

    println!("a flaky call that succeeds on its third attempt:");
    let reply = retry
        .run(|attempt| async move {
            if attempt.number() < 3 {
                Err("connection reset")
            } else {
                Ok("pong")
            }
        })
        .await;
    println!("  => {reply:?}");

    println!("a call that never succeeds:");
    let reply = retry
        .run(|_| async { Err::<&str, _>("503 service unavailable") })
        .await;
    println!("  => {reply:?}");
    Ok(())
}
