//! Two nodes of the order service share one PostgreSQL database; one is killed mid-order, the
//! other takes its sagas over and finishes (or compensates) them.
//!
//! ```text
//! cargo run --example saga_nodes --features postgres
//! DATABASE_URL=postgres://user@host/db cargo run --example saga_nodes --features postgres
//! ```
//!
//! The example runs itself twice: as node `a` (a child process, killed with SIGKILL while its
//! orders wait on the shipping service) and as node `b` (this process), whose
//! `Registry::takeover` resumes node a's orders once their leases expire. Each order's steps
//! get its idempotency key and fencing number, as a real service would receive them.

use bulwark::BoxError;
use bulwark::saga::{
    OutcomeKind, PostgresStore, Registry, Replay, Resume, Saga, Step, StepContext,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const ORDERS: usize = 4;
const LEASE: Duration = Duration::from_millis(500);

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    sku: String,
    quantity: u32,
}

fn order_saga(node: &'static str, store: PostgresStore) -> Result<Saga<Order>, BoxError> {
    let mut saga = Saga::<Order>::builder("place-order")
        .version(1)
        .store(store);
    saga.step(
        Step::new(
            "reserve-inventory",
            move |ctx: StepContext<Order>| async move {
                println!(
                    "[node {node}] reserve {} x{} (key {}, fence {:?})",
                    ctx.input().sku,
                    ctx.input().quantity,
                    ctx.idempotency_key(),
                    ctx.fence()
                );
                Ok::<_, BoxError>(())
            },
        )
        .compensate(move |ctx| async move {
            println!("[node {node}] release {}", ctx.action_key());
            Ok::<_, BoxError>(())
        })
        .on_resume(Resume::Rerun),
    );
    saga.step(
        Step::new(
            "create-shipment",
            move |ctx: StepContext<Order>| async move {
                if node == "a" {
                    // Node a is killed while its orders wait here.
                    std::future::pending::<()>().await;
                }
                if ctx.input().quantity > 5 {
                    return Err::<(), BoxError>("no carrier takes more than 5".into());
                }
                println!(
                    "[node {node}] ship {} (key {}, fence {:?})",
                    ctx.saga_id(),
                    ctx.idempotency_key(),
                    ctx.fence()
                );
                Ok(())
            },
        )
        .on_resume(Resume::Rerun),
    );
    Ok(saga.build()?)
}

async fn store(schema: &str) -> Result<PostgresStore, BoxError> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let store = PostgresStore::builder(&url)
        .schema(schema)
        .claim_ttl(LEASE)
        .open()
        .await
        .map_err(|e| format!("PostgreSQL not reachable or not usable at {url}: {e}"))?;
    Ok(store)
}

/// Node a: starts the orders, then waits (until it is killed).
async fn node_a(schema: &str) -> Result<(), BoxError> {
    let saga = order_saga("a", store(schema).await?)?;
    let runs: Vec<_> = (0..ORDERS)
        .map(|i| {
            let order = Order {
                sku: format!("sku-{i}"),
                quantity: 2 + 2 * i as u32,
            };
            saga.run_with_id(format!("order-{i}"), order)
        })
        .collect();
    for run in runs {
        let _ = run.await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, schema] = &args[..]
        && flag == "--node-a"
    {
        return node_a(schema).await;
    }
    let schema = format!("saga_nodes_{}", std::process::id());
    let store = store(&schema).await?;
    let result = run(&schema, store.clone()).await;
    // The example's schema goes; a service keeps its own.
    let cleanup = drop_schema(&schema).await;
    result.and(cleanup)
}

async fn run(schema: &str, store: PostgresStore) -> Result<(), BoxError> {
    let mut node_a = std::process::Command::new(std::env::current_exe()?)
        .args(["--node-a", schema])
        .spawn()?;
    // Wait until node a has every order in flight at the shipment step, then kill it.
    loop {
        let mut at_shipment = 0;
        for i in 0..ORDERS {
            let log = bulwark::saga::SagaStore::load(&store, &format!("order-{i}").into()).await?;
            at_shipment += usize::from(log.len() >= 4);
        }
        if at_shipment == ORDERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node_a.kill()?;
    node_a.wait()?;
    println!("node a killed with {ORDERS} orders in flight");

    let saga = order_saga("b", store.clone())?;
    let mut registry = Registry::new(store.clone());
    registry.register(&saga)?;
    let takeover = registry.takeover(Duration::from_millis(100));
    while !bulwark::saga::SagaStore::list_unfinished(&store)
        .await?
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("node b took over {} orders", takeover.metrics().resumed);
    takeover.stop().await;
    for i in 0..ORDERS {
        let id = format!("order-{i}").into();
        let log = bulwark::saga::SagaStore::load(&store, &id).await?;
        let replay = Replay::from_log(&log)?;
        println!("{id}: {:?}", replay.phase);
        let ended = matches!(
            replay.phase,
            bulwark::saga::Phase::Finished(OutcomeKind::Completed | OutcomeKind::Compensated)
        );
        if !ended {
            return Err(format!("{id} did not end: {:?}", replay.phase).into());
        }
    }
    Ok(())
}

async fn drop_schema(schema: &str) -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    Ok(())
}
