//! A circuit breaker opening on failures, failing fast, and closing again:
//! `cargo run --example circuit_breaker`.
//!
//! Time is tokio's paused clock: the 10-second open duration takes no real time.

use bulwark::Error;
use bulwark::circuit_breaker::{CircuitBreaker, Event};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let breaker = CircuitBreaker::builder()
        .count_window(10)
        .minimum_calls(5)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(10))
        .permitted_calls_in_half_open(2)
        .on_event(|event| {
            if let Event::StateChanged { from, to, .. } = event {
                println!("  breaker: {from:?} -> {to:?}");
            }
        })
        .build()?;

    // The downstream: up or down, as this switch says.
    let down = AtomicBool::new(true);
    let call = || async {
        if down.load(Ordering::Relaxed) {
            Err(io::Error::other("connection refused"))
        } else {
            Ok("pong")
        }
    };

    for i in 1..=8 {
        match breaker.run(call).await {
            Ok(reply) => println!("call {i}: {reply}"),
            Err(Error::CircuitOpen(open)) => println!("call {i}: failed fast, {open}"),
            Err(e) => println!("call {i}: {e}"),
        }
    }
    println!(
        "downstream calls refused while open: {}",
        breaker.metrics().rejected
    );

    println!("... the downstream recovers; 10 s later the breaker lets probes through");
    down.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(10)).await;
    for i in 9..=11 {
        println!("call {i}: {}", breaker.run(call).await?);
    }
    println!("state: {:?}", breaker.state());
    Ok(())
}
