//! Decisions per second and the latency a decision adds, for the rate limiter stored in Redis
//! (`REDIS_URL`, by default the local server), from 1 and 64 tasks on a runtime of 2 worker
//! threads; beside, in the same run, a plain `PING` round trip on the same kind of
//! connection, and the local limiter.
//!
//! `cargo bench --bench rate_limit_redis --features redis` (`BENCH_SECS` per row, 3 by default).
//! Prints one Markdown table.

use bulwark::rate_limit::{RateLimiter, RedisStore};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Runs `op` in a loop on each of `tasks` tasks for `secs`; every call's latency.
async fn measure<F, Fut>(tasks: usize, secs: f64, op: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                while Instant::now() < end {
                    let t = Instant::now();
                    op().await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    (all, start.elapsed())
}

fn row(name: &str, tasks: usize, (mut lat, elapsed): (Vec<Duration>, Duration)) {
    lat.sort_unstable();
    let n = lat.len();
    let pct = |p: f64| lat[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "| {name} | {tasks} | {:.0} | {:.1} | {:.1} |",
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours runs nothing.
    if std::env::args().skip(1).any(|a| !a.starts_with('-')) {
        return;
    }
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let prefix = format!("bulwark-bench:{}:", std::process::id());
        let store = RedisStore::builder(url())
            .key_prefix(&prefix)
            .timeout(Duration::from_secs(1))
            .build()
            .expect("store");
        // Generous: every decision admits (a rejection costs the same round trip).
        let redis = RateLimiter::builder()
            .rate(10_000_000, Duration::from_secs(1))
            .burst(10_000_000)
            .redis(store)
            .build()
            .expect("limiter");
        let local = RateLimiter::builder()
            .rate(10_000_000, Duration::from_secs(1))
            .burst(10_000_000)
            .build()
            .expect("limiter");
        let client = redis::Client::open(url()).expect("url");
        let ping = redis::aio::ConnectionManager::new(client)
            .await
            .expect("Redis reachable at REDIS_URL");

        println!("| row | tasks | decisions/s | p50 µs | p99 µs |");
        println!("|---|---:|---:|---:|---:|");
        for tasks in [1, 64] {
            let p = ping.clone();
            let m = measure(tasks, secs, move || {
                let mut p = p.clone();
                async move {
                    let _: String = redis::cmd("PING").query_async(&mut p).await.expect("PING");
                }
            })
            .await;
            row("`PING` round trip", tasks, m);
            let l = redis.clone();
            let m = measure(tasks, secs, move || {
                let l = l.clone();
                async move {
                    l.run(|| async { Ok::<_, ()>(()) }).await.expect("admitted");
                }
            })
            .await;
            row("bulwark, Redis", tasks, m);
            let l = local.clone();
            let m = measure(tasks, secs, move || {
                let l = l.clone();
                async move {
                    l.run(|| async { Ok::<_, ()>(()) }).await.expect("admitted");
                }
            })
            .await;
            row("bulwark, local", tasks, m);
        }
        let mut con = ping.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut con)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut con).await;
        }
    });
}
