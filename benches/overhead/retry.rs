//! Retry rows, first attempt succeeds: baseline, tower's `Retry` (a policy that retries errors
//! up to 3 attempts, without and with tower's `TpsBudget`), bulwark's retry layer (with its
//! default budget, and without a budget).

use crate::support::{Echo, contended, current_thread, multi_thread, single};
use bulwark::retry::Retry;
use criterion::Criterion;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::{Policy, RetryLayer};

/// tower policy: retry errors up to 3 attempts, never a success.
#[derive(Clone)]
struct Attempts(usize);

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

fn bulwark_default() -> Retry {
    Retry::default()
}

fn bulwark_no_budget() -> Retry {
    Retry::builder().no_budget().build().expect("valid retry")
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    let mut g = c.benchmark_group("retry/single");
    g.bench_function("baseline", |b| {
        let mut svc = Echo;
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("tower", |b| {
        let mut svc = RetryLayer::new(Attempts(1)).layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("tower-budget", |b| {
        let mut svc = RetryLayer::new(tower_budgeted()).layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark", |b| {
        let mut svc = bulwark_default().layer().layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.bench_function("bulwark-no-budget", |b| {
        let mut svc = bulwark_no_budget().layer().layer(Echo);
        b.iter_custom(|iters| single(&rt, iters, &mut svc));
    });
    g.finish();

    let rt = multi_thread(2);
    let mut g = c.benchmark_group("retry/contended-2");
    g.bench_function("baseline", |b| {
        b.iter_custom(|iters| contended(&rt, 2, iters, Echo))
    });
    g.bench_function("tower", |b| {
        let svc = RetryLayer::new(Attempts(1)).layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("tower-budget", |b| {
        let svc = RetryLayer::new(tower_budgeted()).layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("bulwark", |b| {
        let svc = bulwark_default().layer().layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.bench_function("bulwark-no-budget", |b| {
        let svc = bulwark_no_budget().layer().layer(Echo);
        b.iter_custom(|iters| contended(&rt, 2, iters, svc.clone()))
    });
    g.finish();
}
