//! The hedge beside tower's `hedge` and a pass-through baseline, in one run.
//!
//! Groups (one task on a current-thread runtime):
//! - `hedge/single`: a tower call whose first attempt answers at once (the happy path, no hedge
//!   sent): the baseline service alone, tower's `Hedge` (p90 of a rotating histogram, 10 data
//!   points minimum), bulwark's layer with a fixed delay and the default budget, with a
//!   percentile delay (each answer recorded), and with no budget.
//! - `hedge/pending-once`: the same, with an inner future pending once before it answers (the
//!   hedge arms its timer).
//! - `hedge/standalone`: a closure's future awaited bare, and through `Hedge::run`.
//! - `hedge/hedged`: every call hedged: the first attempt never answers, the hedge at once; on a
//!   paused clock (tokio moves it to the timer when the task is idle), so the row measures the
//!   work of sending a hedge and dropping the loser, not the delay.
//!
//! `HEDGE_ROW=<group/row> HEDGE_CALLS=<n>` runs `n` calls of one row and exits, for instruction
//! counts under callgrind (run at `n` and `2n`; the difference over `n` is one call's cost).

#[path = "overhead/support.rs"]
#[allow(dead_code)]
mod support;

use bulwark::hedge::Hedge;
use criterion::{Criterion, criterion_group};
use std::convert::Infallible;
use std::future::{Pending, Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use support::{Echo, PendingOnce, current_thread, single, single_fn, single_fn_row, single_row};
use tower::{BoxError, Layer, Service};

/// tower's hedge policy: every request may be hedged, by copying it.
#[derive(Clone)]
struct CopyAll;

impl tower::hedge::Policy<u64> for CopyAll {
    fn clone_request(&self, req: &u64) -> Option<u64> {
        Some(*req)
    }
    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

fn tower_hedge<S>(svc: S) -> tower::hedge::Hedge<S, CopyAll>
where
    S: Service<u64> + Clone,
    S::Error: Into<BoxError>,
{
    tower::hedge::Hedge::new(svc, CopyAll, 10, 0.9, Duration::from_secs(10))
}

fn fixed() -> Hedge {
    Hedge::builder()
        .delay(Duration::from_millis(10))
        .build()
        .expect("hedge")
}

fn percentile() -> Hedge {
    Hedge::builder()
        .latency_percentile(0.9, Duration::from_secs(10))
        .build()
        .expect("hedge")
}

fn no_budget() -> Hedge {
    Hedge::builder()
        .delay(Duration::from_millis(10))
        .no_budget()
        .build()
        .expect("hedge")
}

#[allow(clippy::large_enum_variant)]
enum Either {
    Hang(Pending<Result<u64, Infallible>>),
    Answer(Ready<Result<u64, Infallible>>),
}

impl std::future::Future for Either {
    type Output = Result<u64, Infallible>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Either::Hang(p) => std::pin::Pin::new(p).poll(cx),
            Either::Answer(r) => std::pin::Pin::new(r).poll(cx),
        }
    }
}

/// A service whose even calls never answer and whose odd calls answer at once: through a hedge,
/// every call's first attempt hangs and its hedge answers. The count is shared by the clones.
#[derive(Clone, Default)]
struct Alternate(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Service<u64> for Alternate {
    type Response = u64;
    type Error = Infallible;
    type Future = Either;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: u64) -> Either {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(2) {
            Either::Hang(std::future::pending())
        } else {
            Either::Answer(ready(Ok(req)))
        }
    }
}

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn bench(c: &mut Criterion) {
    let rt = current_thread();

    let group = "hedge/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    let svc = rt.block_on(async { tower_hedge(Echo) });
    single_row(&mut g, group, &rt, "tower", svc);
    single_row(&mut g, group, &rt, "bulwark", fixed().layer().layer(Echo));
    let svc = rt.block_on(async { percentile().layer().layer(Echo) });
    single_row(&mut g, group, &rt, "bulwark-percentile", svc);
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark-no-budget",
        no_budget().layer().layer(Echo),
    );
    g.finish();

    let group = "hedge/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    let svc = rt.block_on(async { tower_hedge(PendingOnce) });
    single_row(&mut g, group, &rt, "tower", svc);
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark",
        fixed().layer().layer(PendingOnce),
    );
    g.finish();

    let group = "hedge/standalone";
    let mut g = c.benchmark_group(group);
    single_fn_row(&mut g, group, &rt, "baseline", |i| async move {
        Ok::<_, Infallible>(i)
    });
    let h = fixed();
    single_fn_row(&mut g, group, &rt, "bulwark", move |i| {
        h.run(move || async move { Ok::<_, Infallible>(i) })
    });
    g.finish();

    let prt = paused();
    let group = "hedge/hedged";
    let mut g = c.benchmark_group(group);
    let svc = prt.block_on(async { no_budget().layer().layer(Alternate::default()) });
    single_row(&mut g, group, &prt, "bulwark", svc);
    g.finish();
}

criterion_group!(benches, bench);

/// The callgrind mode: see the file's docs.
fn one_row() -> bool {
    let (Ok(row), Ok(calls)) = (std::env::var("HEDGE_ROW"), std::env::var("HEDGE_CALLS")) else {
        return false;
    };
    let n: u64 = calls.parse().expect("HEDGE_CALLS: a number");
    let rt = current_thread();
    let _elapsed = match row.as_str() {
        "hedge/single/baseline" => single(&rt, n, &mut Echo),
        "hedge/single/tower" => {
            let mut svc = rt.block_on(async { tower_hedge(Echo) });
            single(&rt, n, &mut svc)
        }
        "hedge/single/bulwark" => single(&rt, n, &mut fixed().layer().layer(Echo)),
        "hedge/single/bulwark-percentile" => {
            let mut svc = rt.block_on(async { percentile().layer().layer(Echo) });
            single(&rt, n, &mut svc)
        }
        "hedge/single/bulwark-no-budget" => single(&rt, n, &mut no_budget().layer().layer(Echo)),
        "hedge/pending-once/baseline" => single(&rt, n, &mut PendingOnce),
        "hedge/pending-once/tower" => {
            let mut svc = rt.block_on(async { tower_hedge(PendingOnce) });
            single(&rt, n, &mut svc)
        }
        "hedge/pending-once/bulwark" => single(&rt, n, &mut fixed().layer().layer(PendingOnce)),
        "hedge/standalone/baseline" => single_fn(&rt, n, |i| async move { Ok::<_, Infallible>(i) }),
        "hedge/standalone/bulwark" => {
            let h = fixed();
            single_fn(&rt, n, move |i| {
                h.run(move || async move { Ok::<_, Infallible>(i) })
            })
        }
        "hedge/hedged/bulwark" => {
            let prt = paused();
            let mut svc = prt.block_on(async { no_budget().layer().layer(Alternate::default()) });
            single(&prt, n, &mut svc)
        }
        other => panic!("no row {other}"),
    };
    true
}

fn main() {
    if one_row() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
