//! Three nodes share one PostgreSQL saga store; a controller kills them (SIGKILL) and stalls
//! them past their leases (SIGSTOP, then SIGCONT) at seeded random moments, while live nodes take
//! the dead and stalled nodes' sagas over.
//!
//! This binary is both sides. Run by `cargo test` (no `--child` argument), it is the controller:
//! it starts three worker processes (itself, with `--child`), each running sagas in batches
//! against one schema of the server (`DATABASE_URL`, by default the local server's `test`
//! database) with random step failures, and taking over expired sagas every
//! [`TAKEOVER_EVERY`]. Their steps call a downstream service: a ledger in the same database that
//! counts every effect by idempotency key and checks the fencing number each request carries
//! (it refuses a request whose number is below the highest it has seen for the saga, as a
//! service guarding itself with fencing tokens does). In each round the controller waits a
//! random while, then SIGKILLs a random worker (starting a new one in its place), or, one round
//! in six, SIGSTOPs one for two and a half leases and then lets it go on. After the rounds the
//! workers stop starting sagas, finish the ones left (taking over those of the dead), and exit;
//! then the controller checks, for every saga:
//!
//! - it ended completed or compensated (no step here parks: each is `Rerun` or `Compensate`,
//!   and every compensation succeeds within its retries);
//! - no step's effect was applied twice and none undone twice: each action and compensation
//!   took effect at most once (the `Compensate` steps' actions are not deduplicated by the
//!   ledger, so a second run of one would show as a second row); completed: every effect
//!   applied once, none undone; compensated: every effect applied was undone;
//! - no step ran on two nodes at once: the effects the ledger accepted for the saga carry
//!   non-decreasing fencing numbers in the order they were accepted, and each number belongs to
//!   one node, so the owners of a saga reached the downstream one after the other, never
//!   interleaved. A stalled node that wakes after its saga was taken over is refused by the
//!   store (its next append) and by the ledger (a lower number); the test checks that some such
//!   late requests happened and were refused, and that some sagas were taken over.
//!
//! Without a reachable server the test says so and passes, except under `CI=true`, where it
//! fails. `BULWARK_CRASH_SEED` overrides the seed, `BULWARK_CRASH_ROUNDS` the round count (200
//! by default).

use bulwark::BoxError;
use bulwark::saga::{
    LogEntry, Outcome, OutcomeKind, Phase, PostgresStore, Registry, Replay, Resume, RetryPolicy,
    Run, Saga, SagaError, Step, StepContext,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/crash.rs"]
mod crash;
use crash::{Rng, env_u64};

const TEST_NAME: &str = "saga_postgres_nodes_killed_and_stalled_keep_the_ledger_consistent";
/// The steps, and how the services behave, declared by the step's `Resume` policy: `Rerun`,
/// action and compensation deduplicated by key; `Compensate`, only the compensation.
const STEPS: [(&str, Resume); 4] = [
    ("s0", Resume::Rerun),
    ("s1", Resume::Compensate),
    ("s2", Resume::Rerun),
    ("s3", Resume::Compensate),
];
const NODES: usize = 3;
/// Sagas a worker runs at once (one batch).
const BATCH: u64 = 8;
/// The store's claim time to live: a lease.
const LEASE: Duration = Duration::from_millis(300);
const TAKEOVER_EVERY: Duration = Duration::from_millis(50);
/// How long a stalled worker stays stopped: well past its leases.
const STALL: Duration = Duration::from_millis(750);

fn main() -> ExitCode {
    crash::main(TEST_NAME, controller, child)
}

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn connect() -> Result<tokio_postgres::Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

// ---------------------------------------------------------------- the controller (the test)

fn controller() -> ExitCode {
    let seed = env_u64("BULWARK_CRASH_SEED", 0x9e5_2026);
    let rounds = env_u64("BULWARK_CRASH_ROUNDS", 200);
    println!("running 1 test");
    let runtime = runtime();
    let reachable = runtime.block_on(async {
        let client = tokio::time::timeout(Duration::from_secs(5), connect())
            .await
            .map_err(|_| "no answer within 5 s".into())
            .and_then(|c| c)?;
        client.simple_query("SELECT 1").await?;
        Ok::<_, BoxError>(client)
    });
    let client = match reachable {
        Ok(client) => client,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "PostgreSQL not reachable at {} ({e}); CI=true requires it",
                url()
            )
        }
        Err(e) => {
            eprintln!("PostgreSQL not reachable at {} ({e}); skipping", url());
            println!("test {TEST_NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed");
            return ExitCode::SUCCESS;
        }
    };
    let schema = format!("bulwark_crash_{}", std::process::id());
    let dir = tempfile::tempdir().expect("temp dir");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_rounds(&runtime, &client, &schema, dir.path(), seed, rounds)
    }));
    // The schema goes, whatever happened.
    let dropped = runtime.block_on(client.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {schema}_ledger CASCADE"
    )));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    dropped.expect("drop the test's schema");
    println!("test {TEST_NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed");
    ExitCode::SUCCESS
}

/// A running worker: its process and the name it writes to the ledger.
struct Worker {
    child: Child,
    node: String,
}

/// A worker left running when the test fails is killed with it.
impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(dir: &Path, schema: &str, node: String, seed: u64) -> Worker {
    let child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--child")
        .arg(dir)
        .args([schema, &node, &seed.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker");
    Worker { child, node }
}

/// Fails the test if the worker ended on its own with an error.
fn alive(worker: &mut Worker) {
    if let Ok(Some(status)) = worker.child.try_wait() {
        let mut err = String::new();
        if let Some(mut stderr) = worker.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
        }
        panic!("worker {} ended on its own: {status}\n{err}", worker.node);
    }
}

fn signal(worker: &Worker, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &worker.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {}", worker.node);
}

fn run_rounds(
    runtime: &tokio::runtime::Runtime,
    client: &tokio_postgres::Client,
    schema: &str,
    dir: &Path,
    seed: u64,
    rounds: u64,
) {
    println!("{TEST_NAME}: seed {seed:#x}, {rounds} rounds, schema {schema}");
    // The store's tables and the ledger, before any worker starts.
    runtime
        .block_on(async {
            PostgresStore::builder(&url()).schema(schema).open().await?;
            client.batch_execute(&ledger_schema(schema)).await?;
            Ok::<_, BoxError>(())
        })
        .expect("create the schema");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut incarnations = 0;
    let mut next_node = |rng: &mut Rng| {
        incarnations += 1;
        (format!("n{incarnations}"), rng.next())
    };
    let mut workers: Vec<Worker> = (0..NODES)
        .map(|_| {
            let (node, seed) = next_node(&mut rng);
            spawn(dir, schema, node, seed)
        })
        .collect();
    let (mut kills, mut stalls) = (0, 0);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(20 + rng.below(100)));
        let slot = rng.below(NODES as u64) as usize;
        workers.iter_mut().for_each(alive);
        if rng.below(6) == 0 {
            signal(&workers[slot], "-STOP");
            std::thread::sleep(STALL);
            signal(&workers[slot], "-CONT");
            stalls += 1;
        } else {
            // Dropping the worker kills it.
            let (node, seed) = next_node(&mut rng);
            workers[slot] = spawn(dir, schema, node, seed);
            kills += 1;
        }
    }
    let rounds_took = started.elapsed();
    // Stop starting sagas; the workers finish the rest (taking over the dead's) and exit.
    std::fs::write(dir.join("stop"), b"").expect("write the stop file");
    let deadline = Instant::now() + Duration::from_secs(120);
    for worker in &mut workers {
        loop {
            match worker.child.try_wait().expect("wait for a worker") {
                Some(status) if status.success() => break,
                Some(_) => alive(worker),
                None if Instant::now() > deadline => {
                    panic!("worker {} did not finish within 120 s", worker.node);
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    let drained = started.elapsed() - rounds_took;
    let stats = runtime
        .block_on(check(client, schema))
        .unwrap_or_else(|violation| panic!("seed {seed:#x}: {violation}"));
    println!(
        "{rounds} rounds in {rounds_took:?} ({kills} workers killed, {stalls} stalled past their \
         leases), drained in {drained:?}: {} sagas, {} completed, {} compensated; {} taken over \
         (highest fencing number {}), {} late requests refused by fencing number",
        stats.sagas,
        stats.completed,
        stats.compensated,
        stats.taken_over,
        stats.max_fence,
        stats.fenced
    );
    assert!(stats.taken_over > 0, "no saga was taken over");
    if stalls > 0 {
        assert!(
            stats.fenced > 0,
            "no stalled node woke into a step of a saga taken over"
        );
    }
    assert!(
        stats.completed > 0 && stats.compensated > 0,
        "both outcomes should occur"
    );
}

#[derive(Default)]
struct Stats {
    sagas: u64,
    completed: u64,
    compensated: u64,
    taken_over: u64,
    max_fence: i64,
    fenced: u64,
}

/// The invariants (see the module docs), on the store's and the ledger's tables.
async fn check(client: &tokio_postgres::Client, s: &str) -> Result<Stats, String> {
    let e = |e: tokio_postgres::Error| e.to_string();
    let mut stats = Stats::default();
    // (key, kind) → rows, in the order the ledger accepted them: (fence, node).
    let mut effects: HashMap<(String, String), u64> = HashMap::new();
    // saga → its accepted effects' (fence, node), in order.
    let mut order: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for row in client
        .query(
            &format!("SELECT saga, key, kind, fence, node FROM {s}_ledger.effects ORDER BY seq"),
            &[],
        )
        .await
        .map_err(e)?
    {
        let (saga, key, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        *effects.entry((key, kind)).or_default() += 1;
        order
            .entry(saga)
            .or_default()
            .push((row.get(3), row.get(4)));
    }
    let fenced: i64 = client
        .query_one(&format!("SELECT count(*) FROM {s}_ledger.fenced"), &[])
        .await
        .map_err(e)?
        .get(0);
    stats.fenced = fenced as u64;
    let mut logs: BTreeMap<String, (String, i64, Vec<LogEntry>)> = BTreeMap::new();
    for row in client
        .query(&format!("SELECT id, state, fence FROM {s}.sagas"), &[])
        .await
        .map_err(e)?
    {
        logs.insert(row.get(0), (row.get(1), row.get(2), Vec::new()));
    }
    for row in client
        .query(
            &format!("SELECT saga, entry::text FROM {s}.saga_log ORDER BY position"),
            &[],
        )
        .await
        .map_err(e)?
    {
        let (saga, text): (String, String) = (row.get(0), row.get(1));
        let entry = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        logs.get_mut(&saga)
            .ok_or_else(|| format!("log entry of unknown saga {saga}"))?
            .2
            .push(entry);
    }
    for saga in order.keys() {
        if !logs.contains_key(saga) {
            return Err(format!(
                "effects of a saga the store never recorded: {saga}"
            ));
        }
    }
    for (id, (state, fence, log)) in &logs {
        stats.sagas += 1;
        stats.max_fence = stats.max_fence.max(*fence);
        stats.taken_over += u64::from(*fence > 1);
        let replay = Replay::from_log(log).map_err(|e| format!("saga {id}: {e}"))?;
        let outcome = match replay.phase {
            Phase::Finished(outcome @ (OutcomeKind::Completed | OutcomeKind::Compensated)) => {
                outcome
            }
            phase => return Err(format!("saga {id} did not end well: {phase:?} ({state})")),
        };
        stats.completed += u64::from(outcome == OutcomeKind::Completed);
        stats.compensated += u64::from(outcome == OutcomeKind::Compensated);
        for (name, policy) in STEPS {
            let key = format!("{id}/{name}");
            let count = |kind: &str| {
                effects
                    .get(&(key.clone(), kind.to_owned()))
                    .copied()
                    .unwrap_or(0)
            };
            let (done, undone) = (count("do"), count("undo"));
            if done > 1 || undone > 1 || undone > done {
                return Err(format!(
                    "{key} ({policy:?}): done {done} times, undone {undone}"
                ));
            }
            let consistent = match outcome {
                OutcomeKind::Completed => (done, undone) == (1, 0),
                _ => done == undone,
            };
            if !consistent {
                return Err(format!(
                    "{key}: {outcome:?} saga, done {done}, undone {undone}"
                ));
            }
        }
        // The owners reached the downstream one after the other.
        let mut owners: HashMap<i64, &str> = HashMap::new();
        let mut last = 0;
        for (fence, node) in order.get(id).map_or(&[][..], Vec::as_slice) {
            if *fence < last {
                return Err(format!(
                    "saga {id}: an effect under fencing number {fence} accepted after one under {last}"
                ));
            }
            last = *fence;
            if let Some(other) = owners.insert(*fence, node)
                && other != node
            {
                return Err(format!(
                    "saga {id}: fencing number {fence} used by nodes {other} and {node}"
                ));
            }
        }
    }
    Ok(stats)
}

/// The downstream service: every accepted effect in `effects` (in order, `seq`), the highest
/// fencing number seen per saga in `fences`, refused late requests in `fenced`. `effect(...)` is
/// one call, one transaction: it waits for the saga's row in `fences`, refuses a lower number,
/// and applies the effect (deduplicated by key if asked; an undo only of something done).
fn ledger_schema(s: &str) -> String {
    format!(
        "CREATE SCHEMA {s}_ledger;
         CREATE TABLE {s}_ledger.effects (
            seq bigserial PRIMARY KEY, saga text NOT NULL, key text NOT NULL, kind text NOT NULL,
            fence bigint NOT NULL, node text NOT NULL);
         CREATE INDEX ON {s}_ledger.effects (key, kind);
         CREATE TABLE {s}_ledger.fences (saga text PRIMARY KEY, fence bigint NOT NULL);
         CREATE TABLE {s}_ledger.fenced (key text NOT NULL, kind text NOT NULL,
            fence bigint NOT NULL, node text NOT NULL);
         CREATE FUNCTION {s}_ledger.effect(p_saga text, p_key text, p_kind text, p_fence bigint,
                                           p_node text, p_dedup boolean) RETURNS text
         LANGUAGE plpgsql AS $$
         DECLARE
            highest bigint;
         BEGIN
            INSERT INTO {s}_ledger.fences VALUES (p_saga, p_fence) ON CONFLICT DO NOTHING;
            SELECT fence INTO highest FROM {s}_ledger.fences WHERE saga = p_saga FOR UPDATE;
            IF p_fence < highest THEN
                INSERT INTO {s}_ledger.fenced VALUES (p_key, p_kind, p_fence, p_node);
                RETURN 'fenced';
            END IF;
            UPDATE {s}_ledger.fences SET fence = p_fence WHERE saga = p_saga;
            IF p_kind = 'undo' AND NOT EXISTS (
                SELECT 1 FROM {s}_ledger.effects WHERE key = p_key AND kind = 'do') THEN
                RETURN 'nothing to undo';
            END IF;
            IF p_dedup AND EXISTS (
                SELECT 1 FROM {s}_ledger.effects WHERE key = p_key AND kind = p_kind) THEN
                RETURN 'duplicate';
            END IF;
            INSERT INTO {s}_ledger.effects (saga, key, kind, fence, node)
                VALUES (p_saga, p_key, p_kind, p_fence, p_node);
            RETURN 'applied';
         END $$;"
    )
}

// ---------------------------------------------------------------- a worker (a node)

/// What one saga does, drawn by the worker.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Plan {
    /// The step whose action refuses (before taking effect).
    fail_at: Option<u32>,
    /// Every compensation's first attempt fails.
    flaky_undo: bool,
    /// A pause before and after each effect, in microseconds.
    pause_us: u64,
}

/// The downstream service as a node calls it.
#[derive(Clone)]
struct Ledger {
    client: Arc<tokio_postgres::Client>,
    call: Arc<String>,
    node: Arc<str>,
}

impl Ledger {
    async fn effect(
        &self,
        saga: &str,
        key: String,
        kind: &str,
        fence: Option<u64>,
        dedup: bool,
    ) -> Result<(), BoxError> {
        let fence = fence.ok_or("the store gives no fencing number")? as i64;
        let node: &str = &self.node;
        let row = self
            .client
            .query_one(
                self.call.as_str(),
                &[&saga, &key, &kind, &fence, &node, &dedup],
            )
            .await?;
        match row.get::<_, &str>(0) {
            "fenced" => Err(format!("{key}: refused, fencing number {fence} is stale").into()),
            _ => Ok(()),
        }
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
    let (l1, l2) = (ledger.clone(), ledger.clone());
    Step::new(name, move |ctx: StepContext<Plan>| {
        let (plan, ledger) = (*ctx.input(), l1.clone());
        let (saga, key, fence) = (
            ctx.saga_id().to_string(),
            ctx.idempotency_key().to_string(),
            ctx.fence(),
        );
        async move {
            pause(plan.pause_us).await;
            if plan.fail_at == Some(index) {
                return Err::<u32, BoxError>("refused".into());
            }
            ledger.effect(&saga, key, "do", fence, dedup_action).await?;
            pause(plan.pause_us).await;
            Ok(index)
        }
    })
    .compensate(move |ctx| {
        let (plan, ledger) = (*ctx.input(), l2.clone());
        let (saga, key, fence) = (
            ctx.saga_id().to_string(),
            ctx.action_key().to_string(),
            ctx.fence(),
        );
        let attempt = ctx.attempt();
        async move {
            pause(plan.pause_us).await;
            if plan.flaky_undo && attempt == 1 {
                return Err::<(), BoxError>("flaky".into());
            }
            ledger.effect(&saga, key, "undo", fence, true).await?;
            pause(plan.pause_us).await;
            Ok(())
        }
    })
    .on_resume(policy)
}

fn definition(store: PostgresStore, ledger: &Ledger) -> Saga<Plan> {
    let mut b = Saga::<Plan>::builder("crash-test")
        .version(1)
        .store(store)
        .compensation_retry(RetryPolicy::fixed(5, Duration::from_millis(1)));
    b.step(step(0, ledger));
    b.parallel(|g| {
        g.step(step(1, ledger));
        g.step(step(2, ledger));
    });
    b.step(step(3, ledger));
    b.build().expect("valid saga")
}

fn child(args: &[String]) -> ExitCode {
    match runtime().block_on(work(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn work(args: &[String]) -> Result<(), BoxError> {
    let [dir, schema, node, seed] = args else {
        return Err(format!("worker arguments: {args:?}").into());
    };
    let dir = PathBuf::from(dir);
    let store = PostgresStore::builder(&url())
        .schema(schema.as_str())
        .claim_ttl(LEASE)
        .open()
        .await?;
    let ledger = Ledger {
        client: Arc::new(connect().await?),
        call: Arc::new(format!(
            "SELECT {schema}_ledger.effect($1, $2, $3, $4, $5, $6)"
        )),
        node: node.as_str().into(),
    };
    let saga = definition(store.clone(), &ledger);
    let mut registry = Registry::new(store.clone());
    registry.register(&saga)?;
    let takeover = registry.takeover(TAKEOVER_EVERY);
    let mut rng = Rng(seed.parse()?);
    let mut batch = 0;
    while !dir.join("stop").exists() {
        let runs = (0..BATCH)
            .map(|k| {
                let plan = Plan {
                    fail_at: (rng.below(3) == 0).then(|| rng.below(4) as u32),
                    flaky_undo: rng.below(3) == 0,
                    pause_us: rng.below(3000),
                };
                saga.run_with_id(format!("{node}-{batch}-{k}"), plan)
            })
            .collect();
        finish(runs).await?;
        batch += 1;
    }
    // Until no saga is left running: the dead nodes' are taken over here or by another node.
    while !bulwark::saga::SagaStore::list_unfinished(&store)
        .await?
        .is_empty()
    {
        tokio::time::sleep(TAKEOVER_EVERY).await;
    }
    if takeover.metrics().store_errors > 0 {
        return Err("the takeover failed to claim".into());
    }
    takeover.stop().await;
    Ok(())
}

/// Awaits every run to its end: an outcome, or unsettled (a run that lost its lease while the
/// worker was stalled; the node that took the saga over finishes it).
async fn finish(runs: Vec<Run>) -> Result<(), BoxError> {
    let tasks: Vec<_> = runs.into_iter().map(tokio::spawn).collect();
    for task in tasks {
        match task.await? {
            Ok(Outcome::Completed(_) | Outcome::Compensated(_)) => {}
            Ok(Outcome::Parked(p)) => return Err(format!("a saga parked: {p:?}").into()),
            Err(SagaError::Unsettled(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
