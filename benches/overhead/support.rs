//! Baseline services and the runners every bench module uses.

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Service, ServiceExt};

/// The pass-through baseline: always ready, answers at once with its request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Echo;

impl Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// Like [`Echo`], but its response future is pending once before it answers, as real I/O is: the
/// first poll wakes the task and returns `Pending` (no timer), the second answers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PendingOnce;

impl Service<u64> for PendingOnce {
    type Response = u64;
    type Error = Infallible;
    type Future = YieldOnce<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        YieldOnce::new(Ok(req))
    }
}

/// A future that returns `Pending` once (waking its task first), then its value.
#[derive(Debug)]
pub(crate) struct YieldOnce<T> {
    value: Option<T>,
    yielded: bool,
}

impl<T> YieldOnce<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            value: Some(value),
            yielded: false,
        }
    }
}

impl<T: Unpin> Future for YieldOnce<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.value.take().expect("polled after completion"))
    }
}

/// The error of [`Fail`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

/// The failure-path baseline: always ready, fails at once.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fail;

impl Service<u64> for Fail {
    type Response = u64;
    type Error = Failed;
    type Future = Ready<Result<u64, Failed>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Failed>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u64) -> Self::Future {
        ready(Err(Failed))
    }
}

/// Worker threads of the runtime behind every "contended-N" group; `scripts/bench-report` reads
/// the `workers:` line to turn a contended figure into core time per call (ns × workers / tasks).
pub(crate) const WORKERS: usize = 2;

/// A current-thread runtime for the single-task rows.
pub(crate) fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A multi-thread runtime with `workers` worker threads for the contended rows.
pub(crate) fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    println!("workers: {workers}");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// One call through `svc`: ready, then call, then await.
pub(crate) async fn call_once<S>(svc: &mut S, req: u64)
where
    S: Service<u64>,
    S::Error: std::fmt::Debug,
{
    let out = svc.ready().await.expect("ready").call(req).await;
    std::hint::black_box(out.is_ok());
}

/// Runs `iters` calls of a standalone operation (`f(i)` gives the future of call `i`) on one task
/// of a current-thread runtime and returns the wall time: the rows of handles used without tower.
pub(crate) fn single_fn<F, Fut, T, E>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    mut f: F,
) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            std::hint::black_box(f(i).await.is_ok());
        }
        start.elapsed()
    })
}

/// [`report_allocations`] for a standalone operation run by [`single_fn`].
pub(crate) fn report_allocations_fn<F, Fut, T, E>(row: &str, rt: &tokio::runtime::Runtime, mut f: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    const N: u64 = 1000;
    single_fn(rt, 100, &mut f);
    let info = allocation_counter::measure(|| {
        single_fn(rt, N, &mut f);
    });
    println!("allocs: {row} = {:.2}", info.count_total as f64 / N as f64);
}

/// Runs `iters` calls in each of `tasks` tasks, each on its own clone of `svc`, and returns the wall
/// time: per task, per call, that is what one call costs when `tasks` tasks share the service.
pub(crate) fn contended<S>(
    rt: &tokio::runtime::Runtime,
    tasks: usize,
    iters: u64,
    svc: S,
) -> Duration
where
    S: Service<u64> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async move {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tasks + 1));
        let mut handles = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            let mut svc = svc.clone();
            let barrier = barrier.clone();
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                for i in 0..iters {
                    call_once(&mut svc, i).await;
                }
            }));
        }
        barrier.wait().await;
        let start = Instant::now();
        for h in handles {
            h.await.expect("task");
        }
        start.elapsed()
    })
}

/// Runs `iters` calls on one task of a current-thread runtime and returns the wall time.
pub(crate) fn single<S>(rt: &tokio::runtime::Runtime, iters: u64, svc: &mut S) -> Duration
where
    S: Service<u64>,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            call_once(svc, i).await;
        }
        start.elapsed()
    })
}

/// Heap allocations per call through `svc`, on one task of a current-thread runtime: counted over
/// 1000 calls after 100 warm-up calls, and printed as `allocs: <row> = <n>` for `scripts/bench-report`.
pub(crate) fn report_allocations<S>(row: &str, rt: &tokio::runtime::Runtime, svc: &mut S)
where
    S: Service<u64>,
    S::Error: std::fmt::Debug,
{
    const N: u64 = 1000;
    single(rt, 100, svc);
    let info = allocation_counter::measure(|| {
        single(rt, N, svc);
    });
    println!("allocs: {row} = {:.2}", info.count_total as f64 / N as f64);
}

/// One single-task row: prints its allocations per call, then times it.
pub(crate) fn single_row<S>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut svc: S,
) where
    S: Service<u64>,
    S::Error: std::fmt::Debug,
{
    // Inside the routine, once, so that a row left out by a filter costs nothing.
    let mut counted = false;
    g.bench_function(name, |b| {
        if !std::mem::replace(&mut counted, true) {
            report_allocations(&format!("{group}/{name}"), rt, &mut svc);
        }
        b.iter_custom(|iters| single(rt, iters, &mut svc))
    });
}

/// One single-task row of a standalone operation: allocations per call, then the time.
pub(crate) fn single_fn_row<F, Fut, T, E>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut f: F,
) where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut counted = false;
    g.bench_function(name, |b| {
        if !std::mem::replace(&mut counted, true) {
            report_allocations_fn(&format!("{group}/{name}"), rt, &mut f);
        }
        b.iter_custom(|iters| single_fn(rt, iters, &mut f))
    });
}

/// One contended row: `tasks` tasks share clones of `svc`.
pub(crate) fn contended_row<S>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    tasks: usize,
    name: &str,
    svc: S,
) where
    S: Service<u64> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
{
    g.bench_function(name, |b| {
        b.iter_custom(|iters| contended(rt, tasks, iters, svc.clone()))
    });
}

/// Task counts of the contended groups: as many tasks as workers, and four times as many.
pub(crate) const TASKS: [usize; 2] = [WORKERS, 4 * WORKERS];
