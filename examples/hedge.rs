//! Hedged reads against three replicas, one of which is slow now and then:
//! `cargo run --example hedge`.
//!
//! Time is tokio's paused clock, and the replicas' latencies are drawn from a seeded generator,
//! so every run prints the same figures.

use bulwark::hedge::{Event, Hedge};
use bulwark::retry::RetryBudget;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// One read from a replica: 5 ms, or 400 ms one time in ten.
fn latency(rng: &RefCell<SmallRng>) -> Duration {
    let slow = rng.borrow_mut().random_bool(0.1);
    Duration::from_millis(if slow { 400 } else { 5 })
}

/// `calls` reads through `hedge` (none if `None`); the slowest and the mean latency.
async fn reads(
    hedge: Option<&Hedge>,
    calls: u32,
    rng: &RefCell<SmallRng>,
) -> Result<(Duration, Duration), std::io::Error> {
    let (mut worst, mut total) = (Duration::ZERO, Duration::ZERO);
    for key in 0..calls {
        let start = Instant::now();
        let read = || {
            let wait = latency(rng);
            async move {
                sleep(wait).await;
                Ok::<_, std::io::Error>(key)
            }
        };
        let value = match hedge {
            Some(h) => h.run(read).await?,
            None => read().await?,
        };
        assert_eq!(value, key);
        let took = start.elapsed();
        worst = worst.max(took);
        total += took;
    }
    Ok((worst, total / calls))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rng = RefCell::new(SmallRng::seed_from_u64(7));

    let (worst, mean) = reads(None, 200, &rng).await?;
    println!("no hedge:       slowest {worst:?}, mean {mean:?}");

    // Hedge after 20 ms, at most two extra attempts, at most 20 % more load.
    let hedge = Hedge::builder()
        .name("replicas")
        .delay(Duration::from_millis(20))
        .max_hedged_attempts(2)
        .budget(
            RetryBudget::builder()
                .ratio(0.2)
                .min_per_second(0)
                .build()?,
        )
        .on_event(|e| {
            if let Event::BudgetExhausted { attempt, .. } = e {
                println!("  (budget refused attempt {attempt})");
            }
        })
        .build()?;
    let (worst, mean) = reads(Some(&hedge), 200, &rng).await?;
    println!("20 ms hedge:    slowest {worst:?}, mean {mean:?}");
    println!("metrics: {:?}", hedge.metrics());
    Ok(())
}
