//! Retry rows. As tower layers: baseline, tower's `Retry` (a policy that retries errors up to 3
//! attempts, without and with tower's `TpsBudget`), tower-resilience's retry, bulwark's retry
//! layer (with its default budget, and without a budget). Standalone, around a closure: a bare
//! call as the baseline, `backon`, bulwark's `Retry::run`.
//!
//! The success path ("single", "pending-once", "standalone", contended) never retries: it is the
//! cost of being ready to. The failure path ("failure", "standalone-failure") fails every attempt
//! with zero delay until the 3 attempts run out; bulwark's retry runs without a budget there, as
//! the peers have none, so that all of them make the 3 attempts.

use crate::support::{
    Echo, Fail, Failed, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread,
    single_fn_row, single_row,
};
use backon::{ConstantBuilder, Retryable};
use bulwark::backoff::Backoff;
use bulwark::retry::Retry;
use criterion::Criterion;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::{Policy, RetryLayer};
use tower_resilience_retry::RetryLayer as PeerLayer;

/// tower policy: retry errors up to 3 attempts, never a success.
#[derive(Clone)]
pub(crate) struct Attempts(usize);

impl<E> Policy<u64, u64, E> for Attempts {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u64, result: &mut Result<u64, E>) -> Option<Ready<()>> {
        if result.is_ok() || self.0 >= 3 {
            return None;
        }
        self.0 += 1;
        Some(ready(()))
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}

/// tower policy with tower's budget: deposit on success, withdraw before a retry (the pattern of
/// tower's docs), with Finagle's settings as bulwark's default budget.
#[derive(Clone)]
struct Budgeted {
    budget: Arc<TpsBudget>,
    attempts: usize,
}

impl<E> Policy<u64, u64, E> for Budgeted {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u64, result: &mut Result<u64, E>) -> Option<Ready<()>> {
        if result.is_ok() {
            self.budget.deposit();
            return None;
        }
        if self.attempts >= 3 || !self.budget.withdraw() {
            return None;
        }
        self.attempts += 1;
        Some(ready(()))
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}

fn tower_budgeted() -> Budgeted {
    Budgeted {
        budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
        attempts: 1,
    }
}

/// tower's retry, 3 attempts, no budget.
pub(crate) fn tower_retry() -> RetryLayer<Attempts> {
    RetryLayer::new(Attempts(1))
}

/// tower-resilience's retry: 3 attempts, zero delay.
pub(crate) fn peer<E>() -> PeerLayer<u64, u64, E> {
    PeerLayer::builder()
        .max_attempts(3)
        .fixed_backoff(Duration::ZERO)
        .build()
}

/// bulwark's retry with default settings (3 attempts, default budget and backoff).
pub(crate) fn bulwark_default() -> Retry {
    Retry::default()
}

pub(crate) fn bulwark_no_budget() -> Retry {
    Retry::builder().no_budget().build().expect("valid retry")
}

/// The failure-path retry: 3 attempts, zero delay, no budget (as the peers).
fn bulwark_zero_delay() -> Retry {
    let zero = Backoff::constant(Duration::ZERO)
        .build()
        .expect("valid backoff");
    Retry::builder()
        .backoff(zero)
        .no_budget()
        .build()
        .expect("valid retry")
}

/// backon: zero delay, 2 retries (3 attempts).
fn backon() -> ConstantBuilder {
    ConstantBuilder::new()
        .with_delay(Duration::ZERO)
        .with_max_times(2)
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let group = "retry/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    single_row(&mut g, group, &rt, "tower", tower_retry().layer(Echo));
    let svc = RetryLayer::new(tower_budgeted()).layer(Echo);
    single_row(&mut g, group, &rt, "tower-budget", svc);
    single_row(&mut g, group, &rt, "tower-resilience", peer().layer(Echo));
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark",
        bulwark_default().layer().layer(Echo),
    );
    let svc = bulwark_no_budget().layer().layer(Echo);
    single_row(&mut g, group, &rt, "bulwark-no-budget", svc);
    g.finish();

    let group = "retry/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    single_row(
        &mut g,
        group,
        &rt,
        "tower",
        tower_retry().layer(PendingOnce),
    );
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        peer().layer(PendingOnce),
    );
    let svc = bulwark_default().layer().layer(PendingOnce);
    single_row(&mut g, group, &rt, "bulwark", svc);
    g.finish();

    // A peer whose zero delay still goes through the runtime's timer waits for its next tick
    // (about a millisecond) per retry: ten samples keep such rows to a fraction of a second.
    let group = "retry/failure";
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    single_row(&mut g, group, &rt, "baseline", Fail);
    single_row(&mut g, group, &rt, "tower", tower_retry().layer(Fail));
    single_row(&mut g, group, &rt, "tower-resilience", peer().layer(Fail));
    let svc = bulwark_zero_delay().layer().layer(Fail);
    single_row(&mut g, group, &rt, "bulwark", svc);
    g.finish();

    let group = "retry/standalone";
    let mut g = c.benchmark_group(group);
    single_fn_row(&mut g, group, &rt, "baseline", |i| {
        ready(Ok::<u64, Failed>(i))
    });
    let policy = backon();
    single_fn_row(&mut g, group, &rt, "backon", |i| {
        (move || ready(Ok::<u64, Failed>(i))).retry(&policy)
    });
    let retry = bulwark_default();
    single_fn_row(&mut g, group, &rt, "bulwark", |i| {
        retry.run(move |_| ready(Ok::<u64, Failed>(i)))
    });
    let retry = bulwark_no_budget();
    single_fn_row(&mut g, group, &rt, "bulwark-no-budget", |i| {
        retry.run(move |_| ready(Ok::<u64, Failed>(i)))
    });
    g.finish();

    let group = "retry/standalone-failure";
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    single_fn_row(&mut g, group, &rt, "baseline", |_| {
        ready(Err::<u64, _>(Failed))
    });
    single_fn_row(&mut g, group, &rt, "backon", |_| {
        (|| ready(Err::<u64, _>(Failed))).retry(&policy)
    });
    let retry = bulwark_zero_delay();
    single_fn_row(&mut g, group, &rt, "bulwark", |_| {
        retry.run(|_| ready(Err::<u64, _>(Failed)))
    });
    g.finish();

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("retry/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        contended_row(&mut g, &rt, tasks, "tower", tower_retry().layer(Echo));
        let svc = RetryLayer::new(tower_budgeted()).layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower-budget", svc);
        contended_row(&mut g, &rt, tasks, "tower-resilience", peer().layer(Echo));
        let svc = bulwark_default().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark", svc);
        let svc = bulwark_no_budget().layer().layer(Echo);
        contended_row(&mut g, &rt, tasks, "bulwark-no-budget", svc);
        g.finish();
    }
}
