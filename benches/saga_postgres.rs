//! Durable sagas per second on PostgreSQL (`DATABASE_URL`, by default the local `test`
//! database), with 1 and 3 nodes (each its own store handle and pool) and 1 and 64 sagas in
//! flight; beside, in the same run, a raw `INSERT` + commit of the same log record, 1 and 64 at
//! once. A saga here is one no-op step: four appends (started, step started, step completed,
//! finished), each its own commit.
//!
//! `cargo bench --bench saga_postgres --features postgres`

use bulwark::BoxError;
use bulwark::saga::{PostgresStore, Saga, Step};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

const SCHEMA: &str = "bench_saga_postgres";
const RECORD: &str =
    r#"{"kind":"step_completed","step":{"index":0,"name":"s0"},"attempt":1,"output":7}"#;

async fn node() -> Saga<u64> {
    let store = PostgresStore::builder(&url())
        .schema(SCHEMA)
        .max_connections(16)
        .open()
        .await
        .expect("PostgreSQL reachable at DATABASE_URL");
    let mut b = Saga::<u64>::builder("bench").store(store);
    b.step(Step::new("s0", |ctx| async move {
        Ok::<_, BoxError>(*ctx.input())
    }));
    b.build().expect("valid saga")
}

/// Runs `n` jobs, `in_flight` at a time; the time they took.
async fn run<F, Fut>(n: u64, in_flight: usize, job: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(in_flight));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await.expect("open");
        let fut = job(i);
        tasks.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.expect("job");
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let nodes = rt.block_on(async {
        // A schema of the bench's own, fresh each run.
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL reachable at DATABASE_URL");
        tokio::spawn(connection);
        let drop = format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE");
        client.batch_execute(&drop).await.expect("drop schema");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(node().await);
        }
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {SCHEMA}.raw (position bigserial PRIMARY KEY, saga text NOT NULL, entry jsonb NOT NULL)"
            ))
            .await
            .expect("raw table");
        nodes
    });
    let next = Arc::new(AtomicU64::new(0));
    let mut g = c.benchmark_group("saga/postgres");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for in_flight in [1usize, 64] {
        for n_nodes in [1usize, 3] {
            let id = BenchmarkId::new(format!("sagas/{n_nodes}-nodes"), in_flight);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(run(iters, in_flight, |i| {
                        let saga = nodes[i as usize % n_nodes].clone();
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        async move {
                            let outcome =
                                saga.run_with_id(format!("b-{k}"), i).await.expect("saga");
                            assert!(matches!(outcome, bulwark::saga::Outcome::Completed(_)));
                        }
                    }))
                })
            });
        }
        // A connection per job in flight, up to 32 (the server allows 100 in all, and the
        // nodes' pools hold up to 48); beyond, jobs share a connection, pipelined.
        let connections = in_flight.min(32);
        let clients = rt.block_on(async {
            let mut clients = Vec::new();
            for _ in 0..connections {
                let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                clients.push(Arc::new(client));
            }
            clients
        });
        let sql = format!("INSERT INTO {SCHEMA}.raw (saga, entry) VALUES ($1, $2::text::jsonb)");
        g.bench_function(BenchmarkId::new("raw-insert-commit", in_flight), |b| {
            b.iter_custom(|iters| {
                rt.block_on(run(iters, in_flight, |i| {
                    let client = clients[i as usize % connections].clone();
                    let sql = sql.clone();
                    async move {
                        client
                            .execute(&sql, &[&format!("b-{i}"), &RECORD])
                            .await
                            .expect("insert");
                    }
                }))
            })
        });
    }
    g.finish();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA {SCHEMA} CASCADE"))
            .await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
