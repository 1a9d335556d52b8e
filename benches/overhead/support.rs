//! Baseline services and the runners every bench module uses.

use std::convert::Infallible;
use std::future::{Ready, ready};
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

/// A current-thread runtime for the single-task rows.
pub(crate) fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A multi-thread runtime with `workers` worker threads for the contended rows.
pub(crate) fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
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
