//! A saga that fails at its third step and undoes the first two, in reverse:
//! `cargo run --example saga`.

use bulwark::BoxError;
use bulwark::saga::{Cause, Outcome, Saga, Step, StepContext};

/// A step that prints what it does and what it undoes; `fail` makes its action fail.
fn step(name: &'static str, fail: bool) -> Step<u64, String> {
    Step::new(name, move |ctx: StepContext<u64>| {
        let order = *ctx.input();
        async move {
            if fail {
                println!("  {name}: refused for order {order}");
                return Err(BoxError::from("no courier serves that address"));
            }
            println!("  {name}: done for order {order}");
            Ok(format!("{name}-{order}"))
        }
    })
    .compensate(move |ctx| {
        let done = ctx.output().cloned();
        async move {
            println!(
                "  {name}: undone ({})",
                done.as_deref().unwrap_or("no output")
            );
            Ok::<_, BoxError>(())
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for (order, shipping_fails) in [(1, false), (2, true)] {
        let mut saga = Saga::<u64>::builder("place-order");
        saga.step(step("reserve-inventory", false));
        saga.step(step("charge-payment", false));
        saga.step(step("create-shipment", shipping_fails));
        let saga = saga.build()?;

        println!("order {order}:");
        match saga.run(order).await? {
            Outcome::Completed(_) => println!("  => placed"),
            Outcome::Compensated(undone) => {
                if let Cause::Step(failure) = undone.cause() {
                    println!(
                        "  => failed at {}; undone: {:?}",
                        failure.step(),
                        undone.compensated()
                    );
                }
            }
            Outcome::Parked(parked) => println!("  => parked for an operator: {parked}"),
        }
    }
    Ok(())
}
