//! The PostgreSQL server the tests run against, one schema per test (dropped at the end, even
//! when the test fails), and the contract suite's backend for it.

use crate::saga_support::Backend;
use bulwark::saga::PostgresStore;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `DATABASE_URL`, or the local server's `test` database.
pub(crate) fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether the server answers; checked once per process, on a thread of its own (so that a
/// test's paused clock cannot time the check out). Without a server the tests say so and pass,
/// except under `CI=true`, where they fail: CI must run them.
pub(crate) fn reachable() -> bool {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = REACHABLE.get_or_init(|| {
        std::thread::spawn(|| {
            blocking(async {
                let url = url();
                let connect = tokio_postgres::connect(&url, tokio_postgres::NoTls);
                let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connect)
                    .await
                    .map_err(|_| "no answer within 5 s".to_owned())?
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .simple_query("SELECT 1")
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the check panicked".to_owned()))
        .inspect_err(|e| {
            if std::env::var("CI").as_deref() == Ok("true") {
                return;
            }
            // Once, and past the harness's capture, so that a run without a server says so.
            let line = format!("PostgreSQL not reachable at {} ({e}); skipping\n", url());
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        })
    });
    match result {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "PostgreSQL not reachable at {} ({e}); CI=true requires it",
                url()
            )
        }
        Err(_) => false,
    }
}

/// Runs `future` to its end on a fresh current-thread runtime (real time).
pub(crate) fn blocking<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Runs `sql` on a connection of its own, on a thread of its own (real time, any runtime).
pub(crate) fn execute(sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        blocking(async move {
            let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await.map_err(|e| e.to_string())
        })
    })
    .join()
    .unwrap_or_else(|_| Err("panicked".to_owned()))
}

/// A schema of the test's own, unique in this run, dropped (with its tables) when dropped.
#[derive(Debug)]
pub(crate) struct Schema(String);

impl Schema {
    pub(crate) fn new(prefix: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(format!("{prefix}_{}_{n}_{nanos:x}", std::process::id()))
    }

    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    /// A store on this schema, under `ttl`.
    pub(crate) async fn store(&self, ttl: Duration) -> PostgresStore {
        PostgresStore::builder(&url())
            .schema(self.name())
            .claim_ttl(ttl)
            .max_connections(8)
            .open()
            .await
            .expect("open the postgres store")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0)) {
            eprintln!("cannot drop test schema {}: {e}", self.0);
        }
    }
}

/// The contract suite's backend: a fresh schema per check, a new pool for each handle.
pub(crate) struct Postgres {
    store: PostgresStore,
    claim_ttl: Duration,
    // Last: dropped after the store.
    schema: Schema,
}

impl Backend for Postgres {
    type Store = PostgresStore;

    async fn available() -> bool {
        reachable()
    }

    async fn open(claim_ttl: Duration) -> Self {
        let schema = Schema::new("contract");
        let store = schema.store(claim_ttl).await;
        Postgres {
            store,
            claim_ttl,
            schema,
        }
    }

    fn store(&self) -> PostgresStore {
        self.store.clone()
    }

    async fn another_handle(&self) -> PostgresStore {
        self.schema.store(self.claim_ttl).await
    }
}
