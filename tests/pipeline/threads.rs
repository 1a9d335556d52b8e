//! One pipeline shared by tasks on a multi-thread runtime, and by bare threads with a runtime
//! each, through both doors (and the same patterns as four separate layers): attempts that succeed, fail, or stay pending a few polls, calls
//! dropped at random polls. The bulkhead's limit holds for the attempts' futures alive at any
//! moment; when every call has ended, every attempt's future is gone, every slot is back, and the
//! breaker's window and the retry budget hold exactly what the calls did.

use bulwark::Error;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::bulkhead::Bulkhead;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::pipeline::Pipeline;
use bulwark::retry::{Event, Retry, RetryBudget};
use bulwark::timeout::TimeoutLayer;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};

const LIMIT: usize = 3;
const TASKS: u64 = 16;
const CALLS: u64 = 300;

/// What the attempts did, counted by the attempts themselves.
#[derive(Default)]
struct Counts {
    alive: AtomicUsize,
    most_alive: AtomicUsize,
    made: AtomicU64,
    dropped: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

/// One attempt: pending for `polls` polls (waking itself), then `Ok` or an error. Counted alive
/// from when it is made (the bulkhead has admitted it) until it is dropped.
struct Attempt {
    counts: Arc<Counts>,
    polls: u32,
    fails: bool,
}

impl Attempt {
    fn new(counts: &Arc<Counts>, polls: u32, fails: bool) -> Self {
        let alive = counts.alive.fetch_add(1, Ordering::SeqCst) + 1;
        counts.most_alive.fetch_max(alive, Ordering::SeqCst);
        counts.made.fetch_add(1, Ordering::SeqCst);
        Self {
            counts: counts.clone(),
            polls,
            fails,
        }
    }
}

impl Future for Attempt {
    type Output = Result<u64, io::Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls > 0 {
            self.polls -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(if self.fails {
            self.counts.failed.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::other("refused"))
        } else {
            self.counts.succeeded.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        })
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.counts.alive.fetch_sub(1, Ordering::SeqCst);
        self.counts.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `future` at most `polls` times (`None`: until it ends), then drops it: `None` if it
/// was dropped unfinished.
async fn within<F: Future>(polls: Option<u32>, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut left = polls;
    std::future::poll_fn(|cx| {
        if left == Some(0) {
            return Poll::Ready(None);
        }
        left = left.map(|n| n - 1);
        future.as_mut().poll(cx).map(Some)
    })
    .await
}

/// The pipeline under test, and what its retry reported.
struct Setup {
    pipeline: Pipeline,
    retry: Retry,
    breaker: CircuitBreaker,
    bulkhead: Bulkhead,
    budget: RetryBudget,
    retried: Arc<AtomicU64>,
    counts: Arc<Counts>,
    calls: AtomicU64,
}

fn setup() -> Arc<Setup> {
    // Never opens: the window is never full enough to be judged.
    let breaker = CircuitBreaker::builder()
        .count_window(32_767)
        .minimum_calls(32_767)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(10_000)
        .build()
        .unwrap();
    let budget = RetryBudget::builder()
        .ratio(0.5)
        .min_per_second(1)
        .window(Duration::from_secs(600))
        .build()
        .unwrap();
    let retried = Arc::new(AtomicU64::new(0));
    let on_retry = retried.clone();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(
            Backoff::constant(Duration::ZERO)
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .budget(budget.clone())
        .on_event(move |e| {
            if matches!(e, Event::Retrying { .. }) {
                on_retry.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    // Time bounds that never end a call here, so that their one timer is armed and dropped.
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_secs(600))
        .retry(retry.clone())
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .attempt_timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    Arc::new(Setup {
        pipeline,
        retry,
        breaker,
        bulkhead,
        budget,
        retried,
        counts: Arc::default(),
        calls: AtomicU64::new(0),
    })
}

/// How a call goes: each attempt's polls and outcome, drawn from `rng`, and after how many
/// polls the caller gives up (`None`: never).
fn plan(rng: &mut SmallRng) -> (u32, bool) {
    (rng.random_range(0..4), rng.random_bool(0.4))
}

fn give_up(rng: &mut SmallRng) -> Option<u32> {
    rng.random_bool(0.2).then(|| rng.random_range(0..6))
}

/// `CALLS` calls through the standalone door, seeded by `seed`; checks each finished call's
/// outcome against its last attempt.
async fn run_calls(s: Arc<Setup>, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..CALLS {
        let polls = give_up(&mut rng);
        let mut last = None;
        s.calls.fetch_add(1, Ordering::SeqCst);
        let call = s.pipeline.run(|| {
            let (polls, fails) = plan(&mut rng);
            last = Some(fails);
            Attempt::new(&s.counts, polls, fails)
        });
        match within(polls, call).await {
            None => {}
            Some(Ok(7)) => assert_eq!(last, Some(false)),
            Some(Err(Error::Inner(_))) => assert_eq!(last, Some(true)),
            Some(other) => panic!("no pattern should end a call here: {other:?}"),
        }
    }
}

/// The tower door's inner service: each request's attempts drawn from the request's seed and
/// a count of the attempts made so far.
#[derive(Clone)]
struct Inner(Arc<Counts>);

impl Service<u64> for Inner {
    type Response = u64;
    type Error = io::Error;
    type Future = Attempt;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, seed: u64) -> Attempt {
        let made = self.0.made.load(Ordering::SeqCst);
        let (polls, fails) = plan(&mut SmallRng::seed_from_u64(seed ^ made.rotate_left(32)));
        Attempt::new(&self.0, polls, fails)
    }
}

/// `CALLS` calls through the tower door: the fused layer, or the four separate layers stacked
/// (`separate`) from the same patterns.
async fn serve_calls(s: Arc<Setup>, seed: u64, separate: bool) {
    let inner = Inner(s.counts.clone());
    if separate {
        let stack = tower::ServiceBuilder::new()
            .layer(TimeoutLayer::new(Duration::from_secs(600)))
            .layer(s.retry.layer())
            .layer(s.breaker.layer())
            .layer(s.bulkhead.layer())
            .service(inner);
        serve(&s, stack, seed).await;
    } else {
        serve(&s, s.pipeline.layer().layer(inner), seed).await;
    }
}

async fn serve<S>(s: &Setup, mut svc: S, seed: u64)
where
    S: Service<u64, Response = u64, Error = tower::BoxError>,
{
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..CALLS {
        let polls = give_up(&mut rng);
        s.calls.fetch_add(1, Ordering::SeqCst);
        let ready = svc.ready().await.unwrap();
        match within(polls, ready.call(seed * CALLS + i)).await {
            None | Some(Ok(7)) => {}
            Some(Err(e)) => assert!(e.is::<io::Error>(), "no pattern should end a call: {e}"),
            Some(Ok(other)) => panic!("not the attempt's value: {other}"),
        }
    }
}

/// Every call has ended: nothing is held, and the counts add up exactly.
fn check(s: &Setup) {
    let c = &s.counts;
    let most = c.most_alive.load(Ordering::SeqCst);
    assert!(
        most <= LIMIT,
        "{most} attempts alive at once, the limit is {LIMIT}"
    );
    let made = c.made.load(Ordering::SeqCst);
    assert_eq!(
        c.dropped.load(Ordering::SeqCst),
        made,
        "an attempt never dropped"
    );
    assert_eq!(c.alive.load(Ordering::SeqCst), 0);
    let b = s.bulkhead.metrics();
    assert_eq!((b.in_flight, b.queued, b.rejected_queue_full), (0, 0, 0));
    // Every completed attempt recorded once, on whatever thread; dropped ones not at all.
    let (ok, failed) = (
        c.succeeded.load(Ordering::SeqCst),
        c.failed.load(Ordering::SeqCst),
    );
    let m = s.breaker.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!(u64::from(m.calls), ok + failed);
    assert_eq!(u64::from(m.failures), failed);
    assert_eq!(m.probes_in_flight, 0);
    // One deposit per call, one withdrawal per retry the budget allowed.
    let budget = s.budget.metrics();
    assert_eq!(budget.requests, s.calls.load(Ordering::SeqCst));
    assert_eq!(budget.retries, s.retried.load(Ordering::SeqCst));
    assert!(made > TASKS * CALLS / 2 && failed > 0 && budget.retries > 0);
}

/// `TASKS` tasks on a runtime of four workers, the calls of task `seed` made by `calls`; then
/// the counts are checked.
fn on_four_workers<F: Future<Output = ()> + Send + 'static>(calls: impl Fn(Arc<Setup>, u64) -> F) {
    let s = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|seed| tokio::spawn(calls(s.clone(), seed)))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    check(&s);
}

#[test]
fn tasks_on_a_multi_thread_runtime_share_one_pipeline_exactly() {
    on_four_workers(run_calls);
}

#[test]
fn tasks_through_the_layer_share_one_pipeline_exactly() {
    on_four_workers(|s, seed| serve_calls(s, seed, false));
}

#[test]
fn tasks_through_the_four_separate_layers_share_them_exactly() {
    on_four_workers(|s, seed| serve_calls(s, seed, true));
}

/// Bare threads, a current-thread runtime each, every door at once: every thread has its own
/// stripe of the bulkhead, the budget and the service's lanes.
#[test]
fn bare_threads_share_one_pipeline_exactly() {
    let s = setup();
    // Half as many threads, three doors each: the breaker's window (32,767) holds every attempt.
    std::thread::scope(|scope| {
        for seed in 0..TASKS / 2 {
            let s = s.clone();
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    tokio::join!(
                        run_calls(s.clone(), seed),
                        serve_calls(s.clone(), seed + TASKS, false),
                        serve_calls(s.clone(), seed + 2 * TASKS, true),
                    )
                });
            });
        }
    });
    check(&s);
}
