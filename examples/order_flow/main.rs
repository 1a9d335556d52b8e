//! The order flow: every bulwark pattern earning its keep in one process.
//!
//! `cargo run --example order_flow`. A gateway places orders with a saga over three downstream
//! services (inventory, payment, shipping) that a seeded fault injector breaks on purpose, one
//! phase at a time; the narrative says what each pattern did. Time is tokio's paused clock, so
//! the 2-second stalls and 5-second open durations take no real time and every run tells the same
//! story. Last, the gateway's shipping quotes show the keyed policies: a rate limit per client and
//! a breaker per carrier host. The scenario lives in `scenario.rs`, `services.rs`, `quotes.rs` and
//! `report.rs`, shared with `tests/order_flow.rs`.

mod quotes;
mod report;
mod scenario;
mod services;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), bulwark::BoxError> {
    let report = scenario::run().await?;
    for line in &report.narrative {
        println!("{line}");
    }

    println!();
    for line in report.summary() {
        println!("{line}");
    }
    Ok(())
}
