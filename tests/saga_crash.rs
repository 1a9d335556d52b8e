//! Crash recovery with real processes, killed with SIGKILL at seeded random points.
//!
//! This binary is both sides. Run by `cargo test` (no `--child` argument), it is the test: in
//! each round it starts itself as a worker that runs sagas against an SQLite store and writes
//! their effects to a ledger (a second SQLite file, standing for the services the steps call),
//! kills it at a random moment, sometimes kills the recovering process too, then lets a
//! recovering process finish and checks, after every round:
//!
//! - every saga in the store has ended: completed, compensated, or parked;
//! - completed: every step's effect applied once, none undone; compensated: every step's
//!   effect undone if applied (net zero); parked: nothing undone that was not applied;
//! - no action and no compensation took effect twice where its step's `Resume` policy says it
//!   is not idempotent (those ledger rows are not deduplicated, so a second run would show);
//! - no effect belongs to a saga the store does not know (no action ran unlogged).
//!
//! Each round's check reads that round's sagas and effects only (sagas of earlier rounds have
//! ended and nothing resumes them), so a round costs the same at round 1000 as at round 1; one
//! check of every saga runs at the end.
//!
//! Every run holds a claim on its saga, so a process that was killed leaves its sagas claimed
//! until the claim expires (the store's claim time to live, short here): the recovering
//! process recovers, waits for the claims still held to expire, and recovers again, until no
//! saga is left unfinished.
//!
//! `BULWARK_CRASH_SEED` overrides the seed, `BULWARK_CRASH_ROUNDS` the round count (50 by
//! default, about as long as the rest of the saga tests; `BULWARK_CRASH_ROUNDS=1000` for a long
//! run, a few minutes).

use bulwark::BoxError;
use bulwark::saga::{
    LogEntry, Outcome, OutcomeKind, Phase, Registry, Replay, Resume, RetryPolicy, Run, Saga,
    SagaError, SagaStore, SqliteStore, Step, StepContext,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "common/crash.rs"]
mod crash;
use crash::{Rng, env_u64};

const TEST_NAME: &str = "saga_crash_recovery_keeps_the_ledger_consistent";
/// The steps: name, and how the services behave, declared by the step's `Resume` policy:
/// `Rerun`, action and compensation deduplicated by key; `Compensate`, only the compensation;
/// `Park`, neither (a second run of either would show as a second ledger row).
const STEPS: [(&str, Resume); 4] = [
    ("s0", Resume::Rerun),
    ("s1", Resume::Compensate),
    ("s2", Resume::Rerun),
    ("s3", Resume::Park),
];
const SAGAS_PER_ROUND: u64 = 16;
/// Claims of killed processes expire this long after their last write.
const CLAIM_TTL: Duration = Duration::from_millis(50);

fn main() -> ExitCode {
    crash::main(TEST_NAME, parent, child)
}

// ---------------------------------------------------------------- the test (parent) side

fn parent() -> ExitCode {
    let seed = env_u64("BULWARK_CRASH_SEED", 0x5a9a_2026);
    let rounds = env_u64("BULWARK_CRASH_ROUNDS", 50);
    println!("running 1 test\n{TEST_NAME}: seed {seed:#x}, {rounds} rounds");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut stats = Stats::default();
    for round in 0..rounds {
        let worker = spawn(
            dir.path(),
            &["work", &round.to_string(), &rng.next().to_string()],
        );
        stats.kills += kill_after(worker, Duration::from_millis(5 + rng.below(80)));
        if rng.below(2) == 0 {
            let recovering = spawn(dir.path(), &["recover"]);
            stats.recoverers_killed += kill_after(recovering, Duration::from_millis(rng.below(30)));
        }
        let out = spawn(dir.path(), &["recover"])
            .wait_with_output()
            .expect("recovering process");
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            panic!(
                "round {round}: the recovering process failed: {}",
                out.status
            );
        }
        stats.resumed += text
            .lines()
            .find_map(|l| l.strip_prefix("resumed "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if let Err(violation) = check(dir.path(), Some(round), &mut stats) {
            panic!("round {round} (seed {seed:#x}): {violation}");
        }
    }
    let rounds_took = started.elapsed();
    // Once, every saga of every round.
    let mut all = Stats::default();
    if let Err(violation) = check(dir.path(), None, &mut all) {
        panic!("final check (seed {seed:#x}): {violation}");
    }
    assert_eq!(
        all.outcomes, stats.outcomes,
        "the rounds' checks saw every saga"
    );
    println!(
        "{rounds} rounds in {rounds_took:?}: {} processes killed ({} workers, {} recovering), \
         {} sagas resumed after a kill; {} completed, {} compensated, {} parked",
        stats.kills + stats.recoverers_killed,
        stats.kills,
        stats.recoverers_killed,
        stats.resumed,
        stats.outcomes[0],
        stats.outcomes[1],
        stats.outcomes[2]
    );
    assert!(stats.resumed > 0, "no kill landed in the middle of a saga");
    assert!(
        stats.outcomes.iter().all(|&n| n > 0),
        "every outcome should occur"
    );
    println!("test {TEST_NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed");
    ExitCode::SUCCESS
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(std::env::current_exe().expect("own path"))
        .arg("--child")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a child process")
}

/// Waits `after`, then SIGKILLs the child if it is still running; 1 if it was killed.
fn kill_after(mut child: Child, after: Duration) -> u64 {
    std::thread::sleep(after);
    let running = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let status = child.wait().expect("wait for the child");
    if !running && !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
        }
        panic!("a child failed on its own: {status}\n{err}");
    }
    u64::from(running)
}

#[derive(Default)]
struct Stats {
    kills: u64,
    /// Of which recovering processes.
    recoverers_killed: u64,
    resumed: u64,
    /// Completed, compensated, parked (at the last check).
    outcomes: [u64; 3],
}

/// The `WHERE` clause on `column` and its bounds: the ids of `round` (`"{round}-{k}"`), as a
/// range that the primary key (and the ledger's index) answers; every id if `None`.
fn ids_of(round: Option<u64>, column: &str) -> (String, [String; 2]) {
    let bounds = match round {
        // '.' follows '-': "7-…" sorts within ["7-", "7."), "70-…" after it.
        Some(round) => [format!("{round}-"), format!("{round}.")],
        // Ids are digits and '-': all sort before '~'.
        None => [String::new(), "~".to_owned()],
    };
    (format!("WHERE {column} >= ?1 AND {column} < ?2"), bounds)
}

/// The invariants, checked on the files after a recovering process ran to its end: for the
/// sagas of `round` and their effects (every saga if `None`). Adds their outcomes to `stats`.
fn check(dir: &Path, round: Option<u64>, stats: &mut Stats) -> Result<(), String> {
    let store = rusqlite::Connection::open(dir.join("sagas.db")).map_err(|e| e.to_string())?;
    let ledger = rusqlite::Connection::open(dir.join("ledger.db")).map_err(|e| e.to_string())?;
    // (key, kind) → how many rows.
    let mut effects: HashMap<(String, String), u64> = HashMap::new();
    let (filter, bounds) = ids_of(round, "key");
    let mut stmt = ledger
        .prepare(&format!(
            "SELECT key, kind, count(*) FROM effects {filter} GROUP BY key, kind"
        ))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(bounds, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (key, kind, n) = row.map_err(|e| e.to_string())?;
        effects.insert((key, kind), n);
    }
    let mut sagas = BTreeMap::new();
    let (filter, bounds) = ids_of(round, "id");
    let mut stmt = store
        .prepare(&format!("SELECT id, state FROM bulwark_sagas {filter}"))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(bounds, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (id, state) = row.map_err(|e| e.to_string())?;
        sagas.insert(id, state);
    }
    for (key, _) in effects.keys() {
        let saga = key.rsplit_once('/').map_or("", |(s, _)| s);
        if !sagas.contains_key(saga) {
            return Err(format!("effect `{key}` of a saga the store never recorded"));
        }
    }
    let mut read_log = store
        .prepare("SELECT entry FROM bulwark_saga_log WHERE saga = ?1 ORDER BY position")
        .map_err(|e| e.to_string())?;
    for (id, state) in &sagas {
        let log: Vec<LogEntry> = {
            let rows = read_log
                .query_map([id], |r| r.get::<_, String>(0))
                .map_err(|e| e.to_string())?;
            let mut log = Vec::new();
            for row in rows {
                let text = row.map_err(|e| e.to_string())?;
                log.push(serde_json::from_str(&text).map_err(|e| e.to_string())?);
            }
            log
        };
        let replay = Replay::from_log(&log).map_err(|e| format!("saga {id}: {e}"))?;
        let outcome = match replay.phase {
            Phase::Finished(outcome) => outcome,
            phase => return Err(format!("saga {id} did not end: {phase:?} ({state})")),
        };
        for (name, policy) in STEPS {
            let key = format!("{id}/{name}");
            let count = |kind: &str| {
                effects
                    .get(&(key.clone(), kind.to_owned()))
                    .copied()
                    .unwrap_or(0)
            };
            let (done, undone) = (count("do"), count("undo"));
            if done > 1 || undone > 1 {
                return Err(format!(
                    "{key} ({policy:?}): done {done} times, undone {undone}"
                ));
            }
            if undone > done {
                return Err(format!("{key}: undone {undone} times, done {done} times"));
            }
            match outcome {
                OutcomeKind::Completed if (done, undone) != (1, 0) => {
                    return Err(format!(
                        "{key}: completed saga, done {done}, undone {undone}"
                    ));
                }
                OutcomeKind::Compensated if done != undone => {
                    return Err(format!(
                        "{key}: compensated saga, done {done}, undone {undone}"
                    ));
                }
                _ => {}
            }
        }
        let slot = match outcome {
            OutcomeKind::Completed => 0,
            OutcomeKind::Compensated => 1,
            OutcomeKind::Parked => 2,
        };
        stats.outcomes[slot] += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------- the process that is killed

/// What one saga does, drawn by the worker: where it fails, if its compensations stumble.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Plan {
    /// The step whose action refuses (before taking effect).
    fail_at: Option<u32>,
    /// Every compensation's first attempt fails.
    flaky_undo: bool,
    /// The compensation of `s0` always fails: the saga parks.
    broken_undo: bool,
    /// A pause before and after each effect, in microseconds.
    pause_us: u64,
}

/// The services the steps call: one table of effects, keyed by the idempotency keys.
#[derive(Clone)]
struct Ledger(Arc<Mutex<rusqlite::Connection>>);

impl Ledger {
    fn open(path: &Path) -> Result<Self, BoxError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        // A killed process loses nothing the OS has accepted: the page cache outlives it.
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS effects (key TEXT NOT NULL, kind TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS effects_key ON effects (key, kind);",
        )?;
        Ok(Self(Arc::new(Mutex::new(conn))))
    }

    /// Runs `sql` with `key` off the async threads.
    async fn write(&self, sql: &'static str, key: String) -> Result<(), BoxError> {
        let ledger = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = ledger.0.lock().map_err(|_| "ledger lock poisoned")?;
            conn.execute(sql, [key])?;
            Ok(())
        })
        .await?
    }

    /// The action's effect: a service that deduplicates by key, or one that does not.
    async fn apply(&self, key: String, dedup: bool) -> Result<(), BoxError> {
        let sql = if dedup {
            "INSERT INTO effects (key, kind) SELECT ?1, 'do'
             WHERE NOT EXISTS (SELECT 1 FROM effects WHERE key = ?1 AND kind = 'do')"
        } else {
            "INSERT INTO effects (key, kind) VALUES (?1, 'do')"
        };
        self.write(sql, key).await
    }

    /// The compensation's effect, by the action's key: undo it if it was done (and, by a
    /// service that deduplicates, not undone yet).
    async fn undo(&self, key: String, dedup: bool) -> Result<(), BoxError> {
        let sql = if dedup {
            "INSERT INTO effects (key, kind) SELECT ?1, 'undo'
             WHERE EXISTS (SELECT 1 FROM effects WHERE key = ?1 AND kind = 'do')
             AND NOT EXISTS (SELECT 1 FROM effects WHERE key = ?1 AND kind = 'undo')"
        } else {
            "INSERT INTO effects (key, kind) SELECT ?1, 'undo'
             WHERE EXISTS (SELECT 1 FROM effects WHERE key = ?1 AND kind = 'do')"
        };
        self.write(sql, key).await
    }
}

async fn pause(us: u64) {
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

fn step(index: u32, ledger: &Ledger) -> Step<Plan, u32> {
    let (name, policy) = STEPS[index as usize];
    let dedup_action = policy == Resume::Rerun;
    let dedup_undo = policy != Resume::Park;
    let (l1, l2) = (ledger.clone(), ledger.clone());
    Step::new(name, move |ctx: StepContext<Plan>| {
        let (plan, ledger) = (*ctx.input(), l1.clone());
        let key = ctx.idempotency_key().to_string();
        async move {
            pause(plan.pause_us).await;
            if plan.fail_at == Some(index) {
                return Err::<u32, BoxError>("refused".into());
            }
            ledger.apply(key, dedup_action).await?;
            pause(plan.pause_us).await;
            Ok(index)
        }
    })
    .compensate(move |ctx| {
        let (plan, ledger) = (*ctx.input(), l2.clone());
        let key = ctx.action_key().to_string();
        let attempt = ctx.attempt();
        async move {
            pause(plan.pause_us).await;
            if index == 0 && plan.broken_undo {
                return Err::<(), BoxError>("refund service down".into());
            }
            if plan.flaky_undo && attempt == 1 {
                return Err("flaky".into());
            }
            ledger.undo(key, dedup_undo).await?;
            pause(plan.pause_us).await;
            Ok(())
        }
    })
    .on_resume(policy)
}

fn definition(store: SqliteStore, ledger: &Ledger) -> Saga<Plan> {
    let mut b = Saga::<Plan>::builder("crash-test")
        .version(1)
        .store(store)
        .compensation_retry(RetryPolicy::fixed(3, Duration::from_millis(1)));
    b.step(step(0, ledger));
    b.parallel(|g| {
        g.step(step(1, ledger));
        g.step(step(2, ledger));
    });
    b.step(step(3, ledger));
    b.build().expect("valid saga")
}

fn child(args: &[String]) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(work(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("child failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn work(args: &[String]) -> Result<(), BoxError> {
    let dir = PathBuf::from(args.first().ok_or("no directory")?);
    let store = SqliteStore::builder(dir.join("sagas.db"))
        .claim_ttl(CLAIM_TTL)
        .open()
        .await?;
    let ledger = Ledger::open(&dir.join("ledger.db"))?;
    let saga = definition(store.clone(), &ledger);
    let mut registry = Registry::new(store.clone());
    registry.register(&saga)?;

    let working = matches!(&args[1..], [mode, _, _] if mode == "work");
    let mut resumed = 0;
    loop {
        // A killed process's sagas stay claimed until its claims expire: wait, and again.
        let recovered = registry.recover().await?;
        if let Some(e) = recovered.failed.first() {
            return Err(format!("could not resume: {e}").into());
        }
        resumed += recovered.resumed.len();
        let wait = recovered.held.iter().map(|h| h.expires_in).max();
        finish(recovered.resumed).await?;
        if working {
            break;
        }
        match wait {
            Some(wait) => tokio::time::sleep(wait).await,
            None if store.list_unfinished().await?.is_empty() => break,
            // Resumed runs that ended unsettled (a store error): recover them again.
            None => {}
        }
    }
    println!("resumed {resumed}");
    if let [mode, round, seed] = &args[1..]
        && mode == "work"
    {
        let mut rng = Rng(seed.parse()?);
        let mut runs = Vec::new();
        for k in 0..SAGAS_PER_ROUND {
            let plan = Plan {
                fail_at: (rng.below(3) == 0).then(|| rng.below(4) as u32),
                flaky_undo: rng.below(3) == 0,
                broken_undo: rng.below(16) == 0,
                pause_us: rng.below(1500),
            };
            runs.push(saga.run_with_id(format!("{round}-{k}"), plan));
        }
        finish(runs).await?;
    }
    Ok(())
}

/// Awaits every run to its end: an outcome, or unsettled (recovery finishes those).
async fn finish(runs: Vec<Run>) -> Result<(), BoxError> {
    let tasks: Vec<_> = runs.into_iter().map(tokio::spawn).collect();
    for task in tasks {
        match task.await? {
            Ok(Outcome::Completed(_) | Outcome::Compensated(_) | Outcome::Parked(_)) => {}
            Err(SagaError::Unsettled(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
