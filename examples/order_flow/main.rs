//! The order flow: every bulwark pattern earning its keep in one process.
//!
//! `cargo run --example order_flow`. A gateway places orders with a saga over three downstream
//! services (inventory, payment, shipping) that a seeded fault injector breaks on purpose, one
//! phase at a time; the narrative says what each pattern did. Time is tokio's paused clock, so
//! the 2-second stalls and 5-second open durations take no real time and every run tells the same
//! story. The scenario lives in `scenario.rs` and `services.rs`, shared with `tests/order_flow.rs`.

mod scenario;
mod services;

use scenario::OrderResult;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), bulwark::BoxError> {
    let report = scenario::run().await?;
    for line in &report.narrative {
        println!("{line}");
    }

    let placed = report.count(|r| *r == OrderResult::Placed);
    let compensated = report.count(|r| matches!(r, OrderResult::Compensated { .. }));
    let shed = report.count(|r| *r == OrderResult::Shed);
    println!();
    println!("+------------------------------------+-------+");
    for (what, n) in [
        ("orders placed", placed as u64),
        ("orders compensated by the saga", compensated as u64),
        ("orders shed by the bulkhead", shed as u64),
        ("payment calls rejected fast (open)", report.rejected_fast),
        ("retries spent", report.retries),
    ] {
        println!("| {what:<34} | {n:>5} |");
    }
    println!("+------------------------------------+-------+");
    println!(
        "still in place: {} reservations, {} charges, {} shipments (one each per placed order)",
        report.reserved.len(),
        report.charged.len(),
        report.shipped.len()
    );
    Ok(())
}
