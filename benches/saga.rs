//! Per-step overhead of the saga orchestrator with the in-memory store, beside a baseline that
//! awaits the same no-op closures directly, in the same run.
//!
//! Rows are per run of N steps, with criterion's throughput set to N elements, so the reported
//! "time per element" is the time per step. The 1-step rows carry the per-run cost (spawning the
//! run's task, the first and last log entries) almost alone; the difference between the N-step
//! and 1-step rows, over N - 1, is the orchestrator's cost per step.
//!
//! With the `sqlite` feature, the `saga/durable` group puts the SQLite store beside the
//! in-memory one (`cargo bench --bench saga --features sqlite`).

use bulwark::BoxError;
use bulwark::saga::{InMemoryStore, Outcome, Saga, Step};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

const NAMES: [&str; 16] = [
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14",
    "s15",
];

/// The step's work: nothing.
async fn noop(input: u64) -> Result<u64, BoxError> {
    Ok(black_box(input))
}

/// The compensation's work: nothing.
async fn undo() -> Result<(), BoxError> {
    Ok(())
}

fn saga(steps: usize) -> Saga<u64> {
    let mut b = Saga::<u64>::builder("bench").store(InMemoryStore::new());
    for name in &NAMES[..steps] {
        b.step(Step::new(name, |ctx| noop(*ctx.input())).compensate(|_ctx| undo()));
    }
    b.build().expect("valid saga")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("saga/in-memory");
    for steps in [1usize, 16] {
        g.throughput(Throughput::Elements(steps as u64));
        g.bench_function(BenchmarkId::new("baseline", steps), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        for _ in 0..steps {
                            black_box(noop(i).await.is_ok());
                        }
                    }
                    start.elapsed()
                })
            })
        });
        let saga = saga(steps);
        g.bench_function(BenchmarkId::new("bulwark", steps), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        let outcome = saga.run(i).await.expect("runs");
                        black_box(matches!(outcome, Outcome::Completed(_)));
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// The SQLite store beside the in-memory one, in the same run: a run's latency (per step, as
/// above), sagas per second one at a time and with 64 in flight (where group commits share an
/// fsync), and the cost of one 4 KiB write + fdatasync on the same disk, for context.
#[cfg(feature = "sqlite")]
fn durable(c: &mut Criterion) {
    use bulwark::saga::SqliteStore;
    use std::io::Write;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // On the build's disk, not a tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.db")))
        .expect("store");
    let with_store = |steps: usize, sqlite: bool| {
        let mut b = Saga::<u64>::builder("bench");
        b = if sqlite {
            b.store(store.clone())
        } else {
            b.store(InMemoryStore::new())
        };
        for name in &NAMES[..steps] {
            b.step(Step::new(name, |ctx| noop(*ctx.input())).compensate(|_ctx| undo()));
        }
        b.build().expect("valid saga")
    };

    let mut g = c.benchmark_group("saga/durable");
    for steps in [1usize, 16] {
        g.throughput(Throughput::Elements(steps as u64));
        for (store, sqlite) in [("in-memory", false), ("sqlite", true)] {
            let saga = with_store(steps, sqlite);
            g.bench_function(
                BenchmarkId::new(format!("{store}/sequential"), steps),
                |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            let start = Instant::now();
                            for i in 0..iters {
                                let outcome = saga.run(i).await.expect("runs");
                                black_box(matches!(outcome, Outcome::Completed(_)));
                            }
                            start.elapsed()
                        })
                    })
                },
            );
        }
    }
    // Sagas per second (4 steps each), one at a time and 64 in flight.
    for in_flight in [1u64, 64] {
        g.throughput(Throughput::Elements(in_flight));
        for (store, sqlite) in [("in-memory", false), ("sqlite", true)] {
            let saga = with_store(4, sqlite);
            let id = BenchmarkId::new(format!("{store}/sagas-of-4-steps"), in_flight);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for i in 0..iters {
                            let runs: Vec<_> = (0..in_flight)
                                .map(|k| tokio::spawn(saga.run(i * in_flight + k)))
                                .collect();
                            for run in runs {
                                let outcome = run.await.expect("joined").expect("runs");
                                black_box(matches!(outcome, Outcome::Completed(_)));
                            }
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    g.throughput(Throughput::Elements(1));
    let mut file = std::fs::File::create(dir.path().join("fsync.bin")).expect("file");
    let page = [0x5a_u8; 4096];
    g.bench_function("fsync/4KiB write + fdatasync", |b| {
        b.iter(|| {
            file.write_all(&page).expect("write");
            file.sync_data().expect("fsync");
        })
    });
    g.finish();
}

#[cfg(not(feature = "sqlite"))]
fn durable(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench, durable
}
criterion_main!(benches);
