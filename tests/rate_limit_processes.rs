//! Three processes share one limit through Redis for ten seconds of real time, and together they
//! are admitted no more than `rate × elapsed + burst` calls (and not far fewer: the limit is
//! used, not just refused).
//!
//! This binary is both sides. Run by `cargo test` (no `--child` argument), it is the test: it
//! starts itself three times as a worker (`--child <key prefix> <seconds>`) that calls through a
//! limiter stored in Redis every millisecond for the given time and prints how many calls were
//! admitted; the parent sums them. The window is the parent's wall time from before the first
//! start to after the last exit, which contains every decision (Redis decides on its own clock,
//! on this machine).
//!
//! Needs Redis (`REDIS_URL`, by default `redis://127.0.0.1:6379`): without it the test says so
//! and passes, except under `CI=true`, where it fails. `BULWARK_RATE_PROCESSES_SECS` changes the
//! ten seconds.

#[path = "rate_limit_redis/server.rs"]
#[allow(dead_code)]
mod server;

use bulwark::rate_limit::{RateLimiter, RedisStore};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const TEST_NAME: &str = "three_processes_share_one_redis_limit";
const PROCESSES: usize = 3;
/// The shared limit: 200 calls per second, a burst of 20. Each worker tries 1000 per second.
const RATE: u64 = 200;
const BURST: u64 = 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => child(&args[1..]),
        _ if args.iter().any(|a| a == "--list") => {
            println!("{TEST_NAME}: test");
            ExitCode::SUCCESS
        }
        // A name filter that does not match this test: run nothing, like the default harness.
        _ if args
            .iter()
            .any(|a| !a.starts_with('-') && !TEST_NAME.contains(a.as_str())) =>
        {
            ExitCode::SUCCESS
        }
        _ => parent(),
    }
}

fn parent() -> ExitCode {
    if !server::reachable() {
        println!("test {TEST_NAME} ... ok (skipped: no Redis)");
        return ExitCode::SUCCESS;
    }
    let secs: u64 = std::env::var("BULWARK_RATE_PROCESSES_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let prefix = server::Prefix::new("processes");
    let exe = std::env::current_exe().expect("current exe");
    let start = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--child", prefix.as_str(), &secs.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let mut counts = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("worker");
        if !out.status.success() {
            eprintln!("a worker failed: {:?}", out.status);
            return ExitCode::FAILURE;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(n) = text
            .lines()
            .find_map(|l| l.strip_prefix("admitted "))
            .and_then(|n| n.trim().parse::<u64>().ok())
        else {
            eprintln!("a worker printed no count: {text}");
            return ExitCode::FAILURE;
        };
        counts.push(n);
    }
    let elapsed = start.elapsed();
    let total: u64 = counts.iter().sum();
    let limit = (RATE as f64 * elapsed.as_secs_f64()).floor() as u64 + BURST;
    // The workers ran at least `secs` each, trying five times the rate together.
    let floor = RATE * secs * 9 / 10;
    println!(
        "{PROCESSES} processes, {secs} s each, {:.2} s in all: admitted {counts:?} = {total}; \
         limit {limit}, expected at least {floor}",
        elapsed.as_secs_f64()
    );
    if total > limit || total < floor {
        println!("test {TEST_NAME} ... FAILED");
        return ExitCode::FAILURE;
    }
    println!("test {TEST_NAME} ... ok");
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}

fn child(args: &[String]) -> ExitCode {
    let (Some(prefix), Some(secs)) = (args.first(), args.get(1).and_then(|s| s.parse().ok()))
    else {
        eprintln!("usage: --child <key prefix> <seconds>");
        return ExitCode::FAILURE;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admitted = rt.block_on(async move {
        let store = RedisStore::builder(server::url())
            .key_prefix(prefix.as_str())
            .name("shared")
            .timeout(Duration::from_secs(1))
            .build()
            .expect("store");
        let limiter = RateLimiter::builder()
            .rate(RATE, Duration::from_secs(1))
            .burst(BURST)
            .redis(store)
            .build()
            .expect("limiter");
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut admitted = 0u64;
        while tokio::time::Instant::now() < end {
            tick.tick().await;
            match limiter.run(|| async { Ok::<_, ()>(()) }).await {
                Ok(()) => admitted += 1,
                Err(bulwark::Error::RateLimited(l)) if !l.is_unavailable() => {}
                Err(e) => panic!("unexpected: {e:?}"),
            }
        }
        admitted
    });
    println!("admitted {admitted}");
    ExitCode::SUCCESS
}
