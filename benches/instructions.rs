//! Drives one single-task row of the overhead bench for an exact number of calls, so that
//! `scripts/bench-report` can count its instructions per call under callgrind.
//!
//! ```text
//! instructions --list                   # the rows it can drive, one per line
//! instructions --row <name> --calls <n> # n calls of that row on a current-thread runtime
//! instructions                          # every row, a few calls each (what `cargo bench` runs)
//! ```
//!
//! The rows are the overhead bench's own: its modules are compiled here unchanged (`#[path]`),
//! beside a `support` module that passes everything through except the row runners. Those build
//! nothing and time nothing; they run the one requested row, with the same loop the timed bench
//! uses (`support::single` and `support::single_fn`). Contended rows are skipped: their cost is
//! not one task's instructions. Every row's service is built in every run, as in the timed bench;
//! `scripts/bench-report` cancels that set-up by counting N and 2N calls and taking the difference.
//!
//! A row the overhead bench adds through `single_row` or `single_fn_row` appears here as it is; a
//! new module of the overhead bench needs its `#[path]` line and its `bench` call below.

use criterion::Criterion;
use criterion::measurement::WallTime;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[allow(
    dead_code,
    reason = "the timed bench's helpers that only the timed bench uses"
)]
#[path = "overhead/support.rs"]
mod overhead_support;

#[path = "overhead/adaptive.rs"]
mod adaptive;
#[path = "overhead/bulkhead.rs"]
mod bulkhead;
#[path = "overhead/circuit_breaker.rs"]
mod circuit_breaker;
#[path = "overhead/retry.rs"]
mod retry;
#[path = "overhead/stack.rs"]
mod stack;
#[path = "overhead/timeout.rs"]
mod timeout;

/// The overhead bench's support module, with the row runners replaced by [`visit`].
mod support {
    pub(crate) use crate::overhead_support::*;

    use criterion::BenchmarkGroup;
    use criterion::measurement::WallTime;
    use std::future::Future;
    use tower::Service;

    /// A single-task row of a tower service: driven if it is the requested row.
    pub(crate) fn single_row<S>(
        _: &mut BenchmarkGroup<'_, WallTime>,
        group: &str,
        rt: &tokio::runtime::Runtime,
        name: &str,
        mut svc: S,
    ) where
        S: Service<u64>,
        S::Error: std::fmt::Debug,
    {
        crate::visit(group, name, |calls| {
            single(rt, calls, &mut svc);
        });
    }

    /// A single-task row of a standalone operation: driven if it is the requested row.
    pub(crate) fn single_fn_row<F, Fut, T, E>(
        _: &mut BenchmarkGroup<'_, WallTime>,
        group: &str,
        rt: &tokio::runtime::Runtime,
        name: &str,
        mut f: F,
    ) where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        crate::visit(group, name, |calls| {
            single_fn(rt, calls, &mut f);
        });
    }

    /// Contended rows are not counted (their cost is not one task's instructions).
    pub(crate) fn contended_row<S>(
        _: &mut BenchmarkGroup<'_, WallTime>,
        _: &tokio::runtime::Runtime,
        _: usize,
        _: &str,
        _: S,
    ) where
        // As the timed runner's bound: some rows' types are inferred from it.
        S: Service<u64>,
    {
    }

    /// The contended groups' runtime is never run: a current-thread one starts no threads.
    pub(crate) fn multi_thread(_: usize) -> tokio::runtime::Runtime {
        current_thread()
    }
}

/// What this run does.
enum Mode {
    /// Print every row's name.
    List,
    /// Make `calls` calls through the row named `row`.
    Run { row: String, calls: u64 },
    /// Make a few calls through every row (a smoke test, for `cargo bench` and `cargo test`).
    All,
}

static MODE: OnceLock<Mode> = OnceLock::new();
static VISITED: AtomicUsize = AtomicUsize::new(0);

/// Calls per row in the smoke test.
const SMOKE_CALLS: u64 = 3;

/// Called by every single-task row with a function that makes `n` calls through it.
fn visit(group: &str, name: &str, drive: impl FnOnce(u64)) {
    let row = format!("{group}/{name}");
    match MODE.get().expect("mode set before the rows are built") {
        Mode::List => println!("{row}"),
        Mode::Run { row: wanted, calls } if *wanted == row => drive(*calls),
        Mode::Run { .. } => return,
        Mode::All => drive(SMOKE_CALLS),
    }
    VISITED.fetch_add(1, Ordering::Relaxed);
}

fn parse_args() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let (mut list, mut row, mut calls) = (false, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => list = true,
            "--row" => row = Some(args.next().ok_or("--row needs a row name")?),
            "--calls" => {
                let n = args.next().ok_or("--calls needs a number")?;
                calls = Some(n.parse::<u64>().map_err(|e| format!("--calls {n}: {e}"))?);
            }
            // `cargo bench` passes `--bench`; criterion's options are meant for the timed bench.
            _ => {}
        }
    }
    match (list, row, calls) {
        (true, None, None) => Ok(Mode::List),
        (false, Some(row), Some(calls)) => Ok(Mode::Run { row, calls }),
        (false, None, None) => Ok(Mode::All),
        _ => Err("usage: instructions --list | --row <name> --calls <n>".to_owned()),
    }
}

fn main() {
    let mode = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let _ = MODE.set(mode);
    // The groups are only named: a filter that matches no benchmark id keeps criterion from
    // timing anything, whatever a row runner not replaced above would ask of it.
    let mut c: Criterion<WallTime> = Criterion::default().without_plots().with_filter("^$");
    timeout::bench(&mut c);
    circuit_breaker::bench(&mut c);
    bulkhead::bench(&mut c);
    adaptive::bench(&mut c);
    retry::bench(&mut c);
    stack::bench(&mut c);
    let visited = VISITED.load(Ordering::Relaxed);
    match MODE.get() {
        Some(Mode::Run { row, .. }) if visited == 0 => {
            eprintln!("no single-task row named {row:?}; `--list` names them");
            std::process::exit(1)
        }
        Some(Mode::All) => println!("{visited} rows, {SMOKE_CALLS} calls each"),
        _ => {}
    }
}
