//! Settings from a file, reloaded while traffic flows: `cargo run --example reload --features serde`.
//!
//! A breaker and a bulkhead named `payments` are built from `policies.toml`. Eight workers call
//! through them without pause while a watcher re-reads the file every 100 ms and, when it
//! changed, gives the running instances the new settings by name: the bulkhead keeps the calls
//! in flight and the breaker its window and state. An operator edits the file three times: more
//! room in the bulkhead, a typo (refused with the file, line and key: the old settings stay in
//! force), and a stricter breaker, which opens on the failures already in its window.
//!
//! Time is tokio's paused clock, so the story is the same on every run and takes no real time;
//! the file is a real one, in a temporary directory.

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::config::Policies;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep};

const FIRST: &str = r#"
[circuit_breaker.payments]
count_window = 50
minimum_calls = 20
failure_rate_threshold = 0.5
open_duration = "5s"

[bulkhead.payments]
max_concurrent = 2
"#;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    shed: AtomicU64,
    refused: AtomicU64,
}

impl Tally {
    /// `ok / failed / shed by the bulkhead / refused by the breaker` since the last call.
    fn take(&self) -> String {
        let take = |n: &AtomicU64| n.swap(0, Ordering::Relaxed);
        format!(
            "{} ok, {} failed, {} shed by the bulkhead, {} refused by the open breaker",
            take(&self.ok),
            take(&self.failed),
            take(&self.shed),
            take(&self.refused)
        )
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("bulwark-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("policies.toml");
    std::fs::write(&path, FIRST)?;

    let policies = Policies::from_path(&path)?;
    let breaker = policies.circuit_breaker("payments")?.build()?;
    let bulkhead = policies.bulkhead("payments")?.build()?;
    println!(
        "built from {}: {}",
        path.display(),
        describe(&breaker, &bulkhead)
    );

    let watcher = tokio::spawn(watch(path.clone(), breaker.clone(), bulkhead.clone()));
    let tally = Arc::new(Tally::default());
    // The downstream fails one call in four (every fourth call, so the story is the same).
    let calls = Arc::new(AtomicU64::new(0));
    for _ in 0..8 {
        tokio::spawn(worker(
            breaker.clone(),
            bulkhead.clone(),
            Arc::clone(&tally),
            Arc::clone(&calls),
        ));
    }

    sleep(Duration::from_secs(1)).await;
    println!("1 s of traffic: {}", tally.take());

    println!("operator: max_concurrent = 2 -> 8");
    edit(&path, "max_concurrent = 2", "max_concurrent = 8")?;
    sleep(Duration::from_secs(1)).await;
    println!("1 s of traffic: {}", tally.take());

    println!("operator: a typo");
    edit(&path, "max_concurrent = 8", "max_concurent = 8")?;
    sleep(Duration::from_secs(1)).await;
    println!("1 s of traffic: {}", tally.take());

    println!("operator: fixes the typo and opens the breaker at 20 % failures, not 50 %");
    edit(&path, "max_concurent = 8", "max_concurrent = 8")?;
    edit(
        &path,
        "failure_rate_threshold = 0.5",
        "failure_rate_threshold = 0.2",
    )?;
    sleep(Duration::from_secs(1)).await;
    println!("1 s of traffic: {}", tally.take());
    println!("now: {}", describe(&breaker, &bulkhead));

    watcher.abort();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Re-reads the file every 100 ms; when it changed, applies it, or says why not.
async fn watch(path: PathBuf, breaker: CircuitBreaker, bulkhead: Bulkhead) {
    let mut last = std::fs::read_to_string(&path).unwrap_or_default();
    loop {
        sleep(Duration::from_millis(100)).await;
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text == last {
            continue;
        }
        last = text;
        let applied = Policies::from_path(&path).and_then(|p| {
            p.reconfigure(&breaker)?;
            p.reconfigure(&bulkhead)
        });
        match applied {
            Ok(()) => println!("  reloaded: {}", describe(&breaker, &bulkhead)),
            Err(e) => println!("  reload refused, the settings in force stay: {e}"),
        }
    }
}

async fn worker(
    breaker: CircuitBreaker,
    bulkhead: Bulkhead,
    tally: Arc<Tally>,
    calls: Arc<AtomicU64>,
) {
    loop {
        let started = Instant::now();
        let result = bulkhead
            .run(|| {
                breaker.run(|| async {
                    sleep(Duration::from_millis(20)).await;
                    if calls.fetch_add(1, Ordering::Relaxed) % 4 == 3 {
                        Err(std::io::Error::other("payment declined by the bank"))
                    } else {
                        Ok(())
                    }
                })
            })
            .await
            .map_err(Error::flatten);
        let counter = match result {
            Ok(()) => &tally.ok,
            Err(Error::BulkheadFull(_)) => &tally.shed,
            Err(Error::CircuitOpen(_)) => &tally.refused,
            Err(_) => &tally.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() < Duration::from_millis(20) {
            // Turned away at once: try again a little later, as a client would.
            sleep(Duration::from_millis(20)).await;
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    std::fs::write(path, text.replacen(from, to, 1))
}

fn describe(breaker: &CircuitBreaker, bulkhead: &Bulkhead) -> String {
    let s = breaker.settings();
    let m = bulkhead.metrics();
    format!(
        "breaker {:?} {} (opens at {} % failures of the last {} calls), bulkhead {:?} \
         max_concurrent {} ({} in flight)",
        breaker.name().as_ref(),
        breaker.state().as_str(),
        s.failure_rate_threshold.map_or(100.0, |r| r * 100.0),
        s.count_window.unwrap_or(100),
        bulkhead.name().as_ref(),
        m.max_concurrent,
        m.in_flight
    )
}
