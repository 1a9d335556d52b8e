//! A bulkhead running two calls at once, queueing two, and shedding the rest:
//! `cargo run --example bulkhead`.
//!
//! Time is tokio's paused clock: the one-second calls take no real time.

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use std::time::Duration;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(2)
        .max_queued(2)
        .max_wait(Duration::from_secs(5))
        .build()?;

    // A burst of six slow calls at once: two run, two wait their turn, two are shed at once.
    let start = tokio::time::Instant::now();
    let calls = (1..=6).map(|i| {
        let bulkhead = bulkhead.clone();
        async move {
            let result = bulkhead
                .run(|| async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok::<_, std::io::Error>(i)
                })
                .await;
            let at = start.elapsed().as_secs();
            match result {
                Ok(i) => println!("call {i}: done at {at}s"),
                Err(Error::BulkheadFull(full)) => println!("call {i}: shed at {at}s ({full})"),
                Err(e) => println!("call {i}: failed: {e}"),
            }
        }
    });
    futures::future::join_all(calls).await;

    let m = bulkhead.metrics();
    println!("metrics: {m:?}");
    Ok(())
}
