//! Full stacks, outermost first: bulwark's timeout + retry + circuit breaker + bulkhead; tower's
//! timeout + retry + concurrency limit (tower has no breaker); tower-resilience's time limiter +
//! retry + circuit breaker + bulkhead. Settings as in the per-pattern rows; nothing fails, so this
//! is the cost a call pays for being protected by all four. "stack/standalone" runs bulwark's
//! `Pipeline` (total timeout + retry + breaker + bulkhead, no tower) around a closure, beside the
//! bare closure; no peer offers the four around a closure. "bulwark-fused" is that pipeline as one
//! tower layer (`pipeline.layer()`); "bulwark-fused-no-budget" the same without the retry budget
//! (bulwark's default has one, tower's stack has none: the like-for-like row).

use crate::support::{
    Echo, Failed, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread,
    single_fn_row, single_row,
};
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::CircuitBreaker;
use bulwark::pipeline::Pipeline;
use bulwark::timeout::TimeoutLayer;
use criterion::Criterion;
use std::future::ready;
use std::time::Duration;
use tower::{Service, ServiceBuilder};

const TIMEOUT: Duration = Duration::from_secs(30);
const LIMIT: usize = 64;

fn bulwark<S>(
    inner: S,
) -> impl Service<u64, Error: std::fmt::Debug, Future: Send> + Clone + Send + 'static
where
    S: Service<u64, Response = u64, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + Sync,
{
    let breaker = CircuitBreaker::builder().build().expect("breaker");
    let bulkhead = Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(LIMIT)
        .build()
        .expect("bulkhead");
    ServiceBuilder::new()
        .layer(TimeoutLayer::new(TIMEOUT))
        .layer(crate::retry::bulwark_default().layer())
        .layer(breaker.layer())
        .layer(bulkhead.layer())
        .service(inner)
}

/// The same four patterns as [`bulwark`], fused: one `Pipeline` as one tower layer (total
/// timeout + retry + breaker + bulkhead, in the pipeline's order).
fn bulwark_fused<S>(
    inner: S,
    pipeline: &Pipeline,
) -> impl Service<u64, Error: std::fmt::Debug, Future: Send> + Clone + Send + 'static
where
    S: Service<u64, Response = u64, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + Sync,
{
    ServiceBuilder::new().layer(pipeline.layer()).service(inner)
}

fn pipeline() -> Pipeline {
    pipeline_with(crate::retry::bulwark_default())
}

fn pipeline_with(retry: bulwark::retry::Retry) -> Pipeline {
    Pipeline::builder()
        .total_timeout(TIMEOUT)
        .retry(retry)
        .circuit_breaker(CircuitBreaker::builder().build().expect("breaker"))
        .bulkhead(
            Bulkhead::builder()
                .max_concurrent(LIMIT)
                .max_queued(LIMIT)
                .build()
                .expect("bulkhead"),
        )
        .build()
        .expect("pipeline")
}

fn tower<S>(
    inner: S,
) -> impl Service<u64, Error: std::fmt::Debug, Future: Send> + Clone + Send + 'static
where
    S: Service<u64, Response = u64, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + Sync,
{
    ServiceBuilder::new()
        .timeout(TIMEOUT)
        .layer(crate::retry::tower_retry())
        .concurrency_limit(LIMIT)
        .service(inner)
}

fn tower_resilience<S>(
    inner: S,
) -> impl Service<u64, Error: std::fmt::Debug, Future: Send> + Clone + Send + 'static
where
    S: Service<u64, Response = u64, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + Sync,
{
    let breaker = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("breaker");
    let bulkhead = tower_resilience_bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(LIMIT)
        .build()
        .expect("bulkhead");
    let retry = crate::retry::peer();
    let timeout = tower_resilience_timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(TIMEOUT)
        .build();
    ServiceBuilder::new()
        .layer(timeout)
        .layer(retry)
        .layer(breaker)
        .layer(bulkhead)
        .service(inner)
}

pub(crate) fn bench(c: &mut Criterion) {
    let no_budget = pipeline_with(crate::retry::bulwark_no_budget());
    let rt = current_thread();
    let group = "stack/single";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", Echo);
    single_row(&mut g, group, &rt, "tower", tower(Echo));
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        tower_resilience(Echo),
    );
    single_row(&mut g, group, &rt, "bulwark", bulwark(Echo));
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark-fused",
        bulwark_fused(Echo, &pipeline()),
    );
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark-fused-no-budget",
        bulwark_fused(Echo, &no_budget),
    );
    g.finish();

    let group = "stack/pending-once";
    let mut g = c.benchmark_group(group);
    single_row(&mut g, group, &rt, "baseline", PendingOnce);
    single_row(&mut g, group, &rt, "tower", tower(PendingOnce));
    single_row(
        &mut g,
        group,
        &rt,
        "tower-resilience",
        tower_resilience(PendingOnce),
    );
    single_row(&mut g, group, &rt, "bulwark", bulwark(PendingOnce));
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark-fused",
        bulwark_fused(PendingOnce, &pipeline()),
    );
    single_row(
        &mut g,
        group,
        &rt,
        "bulwark-fused-no-budget",
        bulwark_fused(PendingOnce, &no_budget),
    );
    g.finish();

    let group = "stack/standalone";
    let mut g = c.benchmark_group(group);
    single_fn_row(&mut g, group, &rt, "baseline", |i| {
        ready(Ok::<u64, Failed>(i))
    });
    let standalone = &pipeline();
    single_fn_row(&mut g, group, &rt, "bulwark-pipeline", |i| {
        standalone.run(move || ready(Ok::<u64, Failed>(i)))
    });
    g.finish();

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("stack/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        contended_row(&mut g, &rt, tasks, "tower", tower(Echo));
        contended_row(
            &mut g,
            &rt,
            tasks,
            "tower-resilience",
            tower_resilience(Echo),
        );
        contended_row(&mut g, &rt, tasks, "bulwark", bulwark(Echo));
        contended_row(
            &mut g,
            &rt,
            tasks,
            "bulwark-fused",
            bulwark_fused(Echo, &pipeline()),
        );
        g.finish();
    }
}
