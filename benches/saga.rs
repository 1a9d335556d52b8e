//! Per-step overhead of the saga orchestrator with the in-memory store, beside a baseline that
//! awaits the same no-op closures directly, in the same run.
//!
//! Rows are per run of N steps, with criterion's throughput set to N elements, so the reported
//! "time per element" is the time per step. The 1-step rows carry the per-run cost (spawning the
//! run's task, the first and last log entries) almost alone; the difference between the N-step
//! and 1-step rows, over N - 1, is the orchestrator's cost per step.

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

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
