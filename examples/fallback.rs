//! A price lookup that falls back to the last known price when the pricing service's circuit is
//! open or it is too slow, but not when it says the product does not exist:
//! `cargo run --example fallback`.
//!
//! Time is tokio's paused clock: the timeouts take no real time.

use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::classify::Verdict;
use bulwark::fallback::{Event, Fallback, Reason};
use bulwark::pipeline::Pipeline;
use std::io;
use std::time::Duration;

/// The pricing service: hangs for product 2, fails for product 3, does not know product 9.
async fn price(product: u32) -> Result<u32, io::Error> {
    match product {
        2 => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(20)
        }
        3 => Err(io::Error::other("503 service unavailable")),
        9 => Err(io::Error::new(io::ErrorKind::NotFound, "no such product")),
        n => Ok(n * 10),
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cached = Fallback::builder(|reason: Reason| {
        println!("  (the cached price, because: {})", reason.as_str());
        99
    })
    .name("cached-price")
    .on(Reason::CircuitOpen)
    .on(Reason::Timeout)
    // A failure of the service is replaced too; "not found" is an answer, not a failure.
    .on_failure(|r: &Result<u32, io::Error>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Verdict::Success,
        Err(_) => Verdict::Failure,
        Ok(_) => Verdict::Success,
    })
    .on_event(|e| {
        if let Event::Panicked { .. } = e {
            println!("  (the fallback panicked)");
        }
    })
    .build()?;
    let pricing = Pipeline::builder()
        .total_timeout(Duration::from_millis(500))
        .circuit_breaker(CircuitBreaker::builder().consecutive_failures(2).build()?)
        .fallback(cached.clone())
        .build()?;

    // Two failures in a row (product 2 timed out, product 3 failed) open the circuit: the calls
    // after them get the cached price without reaching the service.
    for product in [1, 9, 2, 3, 3, 1] {
        match pricing.run(|| price(product)).await {
            Ok(p) => println!("product {product}: {p}"),
            Err(e) => println!("product {product}: error: {e}"),
        }
    }
    println!("metrics: {:?}", cached.metrics());
    Ok(())
}
