//! The Redis server the tests run against (`REDIS_URL`, by default `redis://127.0.0.1:6379`),
//! a key prefix per test (its keys deleted at the end, even when the test fails), and the check
//! that the server answers.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// `REDIS_URL`, or the local server.
pub(crate) fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether the server answers a `PING`; checked once per process. Without a server the tests
/// say so and pass, except under `CI=true`, where they fail: CI must run them.
pub(crate) fn reachable() -> bool {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = REACHABLE.get_or_init(|| {
        ping().inspect_err(|e| {
            if std::env::var("CI").as_deref() == Ok("true") {
                return;
            }
            // Once, and past the harness's capture, so that a run without a server says so.
            let line = format!("Redis not reachable at {} ({e}); skipping\n", url());
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        })
    });
    match result {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "Redis not reachable at {} ({e}); CI=true requires it",
                url()
            )
        }
        Err(_) => false,
    }
}

fn ping() -> Result<(), String> {
    let client = redis::Client::open(url()).map_err(|e| e.to_string())?;
    let mut con = client
        .get_connection_with_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    redis::cmd("PING")
        .query::<String>(&mut con)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A key prefix of the test's own, unique in this run and across processes; every key under it
/// is deleted when this is dropped.
#[derive(Debug)]
pub(crate) struct Prefix(String);

impl Prefix {
    pub(crate) fn new(test: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(format!(
            "bulwark-test:{test}:{}:{n}:{nanos:x}:",
            std::process::id()
        ))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// How many keys exist under the prefix now.
    pub(crate) fn keys(&self) -> usize {
        let client = redis::Client::open(url()).expect("url");
        let mut con = client.get_connection().expect("connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.0))
            .query(&mut con)
            .expect("KEYS");
        keys.len()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let cleanup = || -> redis::RedisResult<()> {
            let client = redis::Client::open(url())?;
            let mut con = client.get_connection()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.0))
                .query(&mut con)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).query::<()>(&mut con)?;
            }
            Ok(())
        };
        if let Err(e) = cleanup() {
            eprintln!("cannot delete test keys under {}: {e}", self.0);
        }
    }
}
