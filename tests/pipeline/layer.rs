//! The pipeline as one tower layer (`pipeline.layer()`): the same state machine as `run`, its
//! errors boxed, its parts shared with the handle.

use super::basics::all_four;
use crate::support;

use bulwark::BoxError;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::bulkhead::{Bulkhead, BulkheadFull};
use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, State};
use bulwark::pipeline::Pipeline;
use bulwark::retry::Retry;
use bulwark::timeout::Elapsed;
use futures::FutureExt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::sleep;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn retry(attempts: u32) -> Retry {
    let backoff = Backoff::constant(ms(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    Retry::builder()
        .max_attempts(attempts)
        .backoff(backoff)
        .build()
        .unwrap()
}

/// An inner service failing its first `failures` calls, counting every call.
fn flaky(
    failures: u32,
    calls: Arc<AtomicU32>,
) -> impl Service<u32, Response = u32, Error = std::io::Error, Future: Send> + Clone {
    service_fn(move |request: u32| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n <= failures {
                Err(std::io::Error::other("reset"))
            } else {
                Ok(request * 10)
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn retries_through_the_layer_with_the_request_cloned() {
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_secs(5))
        .retry(retry(3))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = pipeline.layer().layer(flaky(2, calls.clone()));
    let reply = svc.ready().await.unwrap().call(4).await.unwrap();
    assert_eq!(reply, 40);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn the_last_error_comes_back_boxed_after_the_attempts() {
    let pipeline = Pipeline::builder().retry(retry(2)).build().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = pipeline.layer().layer(flaky(5, calls.clone()));
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<std::io::Error>().unwrap().to_string(),
        "reset"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_a_boxed_circuit_open_and_the_inner_service_is_not_called() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_duration(Duration::from_secs(60))
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .retry(retry(5))
        .circuit_breaker(breaker.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = pipeline.layer().layer(flaky(100, calls.clone()));
    // Two failures open the circuit; the retry fails fast on it (its default).
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    let open = err
        .downcast_ref::<CircuitOpen>()
        .expect("the open circuit ends the call");
    // Opened by the second attempt; the third, a backoff (10 ms) later, found it open.
    assert_eq!(open.retry_after(), Duration::from_secs(60) - ms(10));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(breaker.state(), State::Open);
    // The handle's state is the layer's: the next call is rejected without calling the service.
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_a_boxed_bulkhead_full_that_the_breaker_ignores() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_queued(0)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let slow = service_fn(|_: u32| async {
        sleep(ms(100)).await;
        Ok::<_, std::io::Error>(1)
    });
    let mut svc = pipeline.layer().layer(slow);
    let first = svc.ready().await.unwrap().call(1);
    let mut first = pin!(first);
    assert!(futures::poll!(first.as_mut()).is_pending());
    assert_eq!(bulkhead.metrics().in_flight, 1);
    let err = svc.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(err.is::<BulkheadFull>(), "{err}");
    assert_eq!(
        breaker.state(),
        State::Closed,
        "a full bulkhead is no failure"
    );
    assert_eq!(first.await.unwrap(), 1);
    assert_eq!(bulkhead.metrics().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_and_is_retried_and_the_total_timeout_ends_the_call() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let hangs_once = service_fn(move |_: u32| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n == 1 {
                std::future::pending::<()>().await;
            }
            Ok::<_, std::io::Error>(n)
        }
    });
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_secs(1))
        .retry(retry(3))
        .attempt_timeout(ms(200))
        .build()
        .unwrap();
    let mut svc = pipeline.layer().layer(hangs_once);
    let started = tokio::time::Instant::now();
    let reply = svc.ready().await.unwrap().call(0).await.unwrap();
    assert_eq!(reply, 2);
    // The attempt timeout, then the backoff, then the second attempt.
    assert_eq!(started.elapsed(), ms(210));

    let hangs = service_fn(|_: u32| async {
        std::future::pending::<()>().await;
        Ok::<u32, std::io::Error>(0)
    });
    // Every attempt hangs: attempts of 200 ms, 10 ms apart, until the total second runs out in
    // the fifth.
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_secs(1))
        .retry(retry(10))
        .attempt_timeout(ms(200))
        .build()
        .unwrap();
    let mut svc = pipeline.layer().layer(hangs);
    let started = tokio::time::Instant::now();
    let err = svc.ready().await.unwrap().call(0).await.unwrap_err();
    assert!(err.is::<Elapsed>(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_future_returns_the_slot_and_the_probe() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_duration(ms(100))
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .circuit_breaker(breaker.clone())
        .bulkhead(bulkhead.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    // The first call fails (the circuit opens); every later one hangs.
    let svc = service_fn(move |_: u32| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n == 1 {
                return Err(std::io::Error::other("down"));
            }
            std::future::pending::<()>().await;
            Ok::<u32, std::io::Error>(0)
        }
    });
    let mut svc = pipeline.layer().layer(svc);
    assert!(svc.ready().await.unwrap().call(0).await.is_err());
    assert_eq!(breaker.state(), State::Open);
    sleep(ms(100)).await;
    for _ in 0..2 {
        // The probe is admitted (the one probe slot is free again the second time), takes the
        // bulkhead's one slot, and is dropped while its call hangs.
        let call = svc.ready().await.unwrap().call(0);
        let mut call = pin!(call);
        assert!(futures::poll!(call.as_mut()).is_pending());
        assert_eq!(breaker.state(), State::HalfOpen);
        assert_eq!(bulkhead.metrics().in_flight, 1);
    }
    assert_eq!(bulkhead.metrics().in_flight, 0, "the slot came back");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "both probes called the service"
    );
}

/// A service whose future is pending once (it wakes itself) and then ready.
#[derive(Clone)]
struct PendingOnce;

struct Once(bool);

impl Future for Once {
    type Output = Result<u32, std::io::Error>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.0 {
            Poll::Ready(Ok(1))
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Service<u32> for PendingOnce {
    type Response = u32;
    type Error = std::io::Error;
    type Future = Once;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: u32) -> Once {
        Once(false)
    }
}

/// Polls `future` to its end with a waker that does nothing; its output.
fn drive<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn full_pipeline() -> Pipeline {
    all_four(Bulkhead::builder().max_concurrent(4).build().unwrap())
}

#[test]
fn no_allocation_per_call_through_the_layer_even_when_the_call_is_pending_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pipeline = full_pipeline();
    let mut ready =
        pipeline.layer().layer(service_fn(
            |n: u32| async move { Ok::<_, std::io::Error>(n) },
        ));
    let per_call = support::allocations_per_call(10, 1000, || {
        let out = ready.call(7).now_or_never();
        assert!(matches!(out, Some(Ok(7))));
    });
    assert_eq!(per_call, 0.0, "ready at once");
    let mut pending = pipeline.layer().layer(PendingOnce);
    let per_call = support::allocations_per_call(10, 1000, || {
        assert_eq!(drive(pending.call(0)).unwrap(), 1);
    });
    assert_eq!(per_call, 0.0, "pending once");
    // The standalone door too, pending once.
    let per_call = support::allocations_per_call(10, 1000, || {
        let out = drive(pipeline.run(|| Once(false)));
        assert_eq!(out.unwrap(), 1);
    });
    assert_eq!(per_call, 0.0, "standalone, pending once");
}

#[test]
fn the_layer_is_usable_in_a_service_builder_and_boxes_its_errors() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let svc = ServiceBuilder::new()
            .layer(full_pipeline().layer())
            .service_fn(|n: u32| async move {
                if n == 0 {
                    Err::<u32, BoxError>("zero".into())
                } else {
                    Ok(n)
                }
            });
        let reply = svc.clone().oneshot(3).await.unwrap();
        assert_eq!(reply, 3);
        let err = svc.oneshot(0).await.unwrap_err();
        assert_eq!(err.to_string(), "zero");
    });
}

/// The response futures' sizes, against budgets: a future is moved a few times per call (into the
/// caller's state, into a task), so its size is part of what a call costs. A budget is the size
/// measured when it was set, rounded up to 64 bytes; one that no longer holds is a change to
/// look at, and to raise deliberately if it is worth it.
#[test]
fn response_futures_stay_within_their_size_budgets() {
    use bulwark::timeout::TimeoutLayer;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let echo = service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
    let pipeline = full_pipeline();
    let retry = Retry::builder().build().unwrap();
    let breaker = CircuitBreaker::builder().build().unwrap();
    let bulkhead = Bulkhead::builder().max_concurrent(4).build().unwrap();
    let timeout = TimeoutLayer::new(Duration::from_secs(1));
    let mut sizes = Vec::new();
    let mut measure = |name: &'static str, size: usize, budget: usize| {
        sizes.push(format!("{name}: {size} bytes (budget {budget})"));
        assert!(
            size <= budget,
            "{name}: {size} bytes, over its budget of {budget}"
        );
    };
    measure("timeout", size_of_val(&timeout.layer(echo).call(1)), 192);
    measure(
        "retry",
        size_of_val(&retry.layer().layer(echo).call(1)),
        128,
    );
    measure(
        "circuit breaker",
        size_of_val(&breaker.layer().layer(echo).call(1)),
        64,
    );
    measure(
        "bulkhead",
        size_of_val(&bulkhead.layer().layer(echo).call(1)),
        64,
    );
    let mut stack = ServiceBuilder::new()
        .layer(timeout)
        .layer(retry.layer())
        .layer(breaker.layer())
        .layer(bulkhead.layer())
        .service(echo);
    measure("four layers stacked", size_of_val(&stack.call(1)), 512);
    measure(
        "pipeline layer",
        size_of_val(&pipeline.layer().layer(echo).call(1)),
        320,
    );
    measure(
        "pipeline run",
        size_of_val(&pipeline.run(|| async { Ok::<_, std::io::Error>(1) })),
        320,
    );
    println!("{}", sizes.join("\n"));
}

#[test]
fn four_separate_layers_allocate_nothing_per_call() {
    use bulwark::timeout::TimeoutLayer;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(10)))
        .layer(Retry::builder().max_attempts(3).build().unwrap().layer())
        .layer(CircuitBreaker::builder().build().unwrap().layer())
        .layer(
            Bulkhead::builder()
                .max_concurrent(4)
                .build()
                .unwrap()
                .layer(),
        )
        .service(service_fn(
            |n: u32| async move { Ok::<_, std::io::Error>(n) },
        ));
    let per_call = support::allocations_per_call(10, 1000, || {
        let out = stack.call(7).now_or_never();
        assert!(matches!(out, Some(Ok(7))));
    });
    assert_eq!(per_call, 0.0, "ready at once");
    let mut stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(10)))
        .layer(Retry::builder().max_attempts(3).build().unwrap().layer())
        .layer(CircuitBreaker::builder().build().unwrap().layer())
        .layer(
            Bulkhead::builder()
                .max_concurrent(4)
                .build()
                .unwrap()
                .layer(),
        )
        .service(PendingOnce);
    let per_call = support::allocations_per_call(10, 1000, || {
        assert_eq!(drive(stack.call(0)).unwrap(), 1);
    });
    assert_eq!(per_call, 0.0, "pending once");
}

/// The services' default type parameters are their layers' defaults: a protected client is
/// nameable in a struct field.
#[test]
fn the_services_name_their_defaults() {
    use bulwark::bulkhead::BulkheadService;
    use bulwark::circuit_breaker::CircuitBreakerService;
    use bulwark::pipeline::PipelineService;
    use bulwark::retry::RetryService;
    use bulwark::timeout::{TimeoutLayer, TimeoutService};
    struct Clients {
        stacked: TimeoutService<RetryService<CircuitBreakerService<BulkheadService<PendingOnce>>>>,
        fused: PipelineService<PendingOnce>,
    }
    let clients = Clients {
        stacked: ServiceBuilder::new()
            .layer(TimeoutLayer::new(Duration::from_secs(1)))
            .layer(Retry::builder().build().unwrap().layer())
            .layer(CircuitBreaker::builder().build().unwrap().layer())
            .layer(Bulkhead::builder().build().unwrap().layer())
            .service(PendingOnce),
        fused: full_pipeline().layer().layer(PendingOnce),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let Clients {
        mut stacked,
        mut fused,
    } = clients;
    assert_eq!(drive(stacked.call(0)).unwrap(), 1);
    assert_eq!(drive(fused.call(0)).unwrap(), 1);
}

/// The call starts when `run` is called: the total deadline counts from then, not from the first
/// poll (as with `Timeout::run`).
#[tokio::test(start_paused = true)]
async fn the_total_deadline_counts_from_run_not_from_the_first_poll() {
    let pipeline = Pipeline::builder()
        .total_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let call = pipeline.run(|| async {
        sleep(ms(500)).await;
        Ok::<_, std::io::Error>(())
    });
    sleep(ms(600)).await;
    let out = call.await;
    assert!(matches!(out, Err(bulwark::Error::Timeout(_))), "{out:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

/// The layer's service is ready when the inner service is: pending while the inner one is, and
/// its readiness error, boxed, when it fails.
#[tokio::test]
async fn the_services_readiness_is_the_inner_services() {
    let pipeline = Pipeline::builder().retry(retry(2)).build().unwrap();
    let (mock, mut handle) = tower_test::mock::pair::<u32, u32>();
    let mut svc = pipeline.layer().layer(mock);
    let mut cx = Context::from_waker(Waker::noop());
    handle.allow(0);
    assert!(
        svc.poll_ready(&mut cx).is_pending(),
        "the inner one is not ready"
    );
    handle.allow(1);
    assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    // The inner service is called when the call is first polled.
    let (out, ()) = tokio::join!(svc.call(3), async {
        let (request, reply) = handle.next_request().await.unwrap();
        assert_eq!(request, 3);
        reply.send_response(4);
    });
    assert_eq!(out.unwrap(), 4);
    handle.send_error(std::io::Error::other("overloaded"));
    let err = svc.ready().await.unwrap_err();
    assert_eq!(err.to_string(), "overloaded");
}

#[test]
fn the_pipelines_debug_names_its_parts() {
    let pipeline = Pipeline::builder()
        .name("payments")
        .total_timeout(ms(250))
        .build()
        .unwrap();
    let debug = format!("{pipeline:?}");
    assert!(debug.starts_with("Pipeline {"), "{debug}");
    assert!(debug.contains("payments"), "{debug}");
    assert!(debug.contains("total_timeout: Some(250ms)"), "{debug}");
}

/// Before a retry the inner service is driven to readiness again: the retry is sent once it is
/// ready; while it is not, the call waits, ended by the total deadline (a total timeout, at its
/// time) or by the retry's time limit (the last outcome, at its time), whichever comes first.
#[tokio::test(start_paused = true)]
async fn a_retry_waits_for_the_inner_services_readiness_within_the_calls_bounds() {
    // (total timeout, retry's time limit, when the service is ready again)
    for (total, limit, ready_at) in [
        (ms(1000), ms(1000), ms(100)),
        (ms(50), ms(1000), ms(500)),
        (ms(1000), ms(30), ms(500)),
    ] {
        let case = format!("total {total:?}, limit {limit:?}, ready at {ready_at:?}");
        let backoff = Backoff::constant(ms(10))
            .jitter(Jitter::None)
            .build()
            .unwrap();
        let pipeline = Pipeline::builder()
            .total_timeout(total)
            .retry(
                Retry::builder()
                    .max_attempts(2)
                    .backoff(backoff)
                    .stop_retrying_after(limit)
                    .no_budget()
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let (mock, mut handle) = tower_test::mock::pair::<u32, u32>();
        let mut svc = pipeline.layer().layer(mock);
        handle.allow(1);
        svc.ready().await.unwrap();
        let start = tokio::time::Instant::now();
        // Answers the first attempt with an error, makes the service ready again at `ready_at`
        // and answers a retry, if one comes (a call that gave up sends none).
        let driver = async {
            let (_, reply) = handle.next_request().await.unwrap();
            reply.send_error(std::io::Error::other("reset"));
            sleep(ready_at).await;
            handle.allow(1);
            if let Some((request, reply)) = handle.next_request().await {
                assert_eq!(request, 5, "{case}: the request again");
                reply.send_response(50);
            }
            std::future::pending::<()>().await;
        };
        let call = svc.call(5);
        let (out, took) = tokio::select! {
            out = call => (out, start.elapsed()),
            () = driver => unreachable!(),
        };
        if ready_at < total.min(limit) {
            assert_eq!(out.unwrap(), 50, "{case}");
            assert_eq!(took, ready_at, "{case}");
        } else if total < limit {
            let err = out.unwrap_err();
            let elapsed = err.downcast_ref::<Elapsed>().expect("a timeout");
            assert_eq!(elapsed.after(), total, "{case}");
            assert_eq!(took, total, "{case}");
        } else {
            assert_eq!(
                out.unwrap_err().to_string(),
                "reset",
                "{case}: the last outcome"
            );
            assert_eq!(took, limit, "{case}");
        }
    }
}

/// With no way to have the request again (nothing kept, nothing recovered from the error), a
/// failed attempt is not retried: the call returns its outcome at once, and the retry says why.
#[tokio::test(start_paused = true)]
async fn without_a_request_to_send_again_a_failure_is_returned_at_once() {
    use bulwark::retry::{Event, GiveUpReason, Reissue};
    use std::sync::Mutex;
    #[derive(Clone)]
    struct Never;
    impl<Req> Reissue<Req> for Never {}
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&events);
    let backoff = Backoff::constant(ms(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(backoff)
        .on_event(move |e| {
            log.lock().unwrap().push(match e {
                Event::Retrying { .. } => "retrying".to_owned(),
                Event::GaveUp {
                    attempts, reason, ..
                } => format!("gave up after {attempts}: {reason:?}"),
                _ => "other".to_owned(),
            });
        })
        .build()
        .unwrap();
    let pipeline = Pipeline::builder().retry(retry).build().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = pipeline
        .layer()
        .reissue(Never)
        .layer(flaky(1, calls.clone()));
    let start = tokio::time::Instant::now();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(err.to_string(), "reset");
    assert_eq!(start.elapsed(), Duration::ZERO, "no backoff slept");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *events.lock().unwrap(),
        [format!("gave up after 1: {:?}", GiveUpReason::NoRequest)]
    );
}

/// The layer's service and its response future name themselves and the call's state.
#[tokio::test(start_paused = true)]
async fn the_service_and_its_future_describe_themselves() {
    let pipeline = Pipeline::builder().retry(retry(2)).build().unwrap();
    let (mock, _handle) = tower_test::mock::pair::<u32, u32>();
    let described = pipeline.layer().layer(mock);
    let debug = format!("{described:?}");
    assert!(debug.starts_with("PipelineService {"), "{debug}");
    let mut svc = pipeline.layer().layer(flaky(0, Arc::default()));
    let mut call = Box::pin(svc.ready().await.unwrap().call(1));
    assert_eq!(
        format!("{call:?}"),
        r#"ResponseFuture { state: "admitting", attempt: 1 }"#
    );
    assert_eq!(call.as_mut().await.unwrap(), 10);
    assert_eq!(
        format!("{call:?}"),
        r#"ResponseFuture { state: "done", attempt: 1 }"#
    );
}

/// A call's first attempt shares the clock reading the call took when it was made (with a total
/// timeout, in `call`): its attempt timeout counts from then, as tower's `Timeout` counts from
/// `call`, even if the future is first polled later. A retry's attempt counts from its own start.
#[tokio::test(start_paused = true)]
async fn the_first_attempts_timeout_counts_from_the_call() {
    for attempts in [1, 2] {
        let mut b = Pipeline::builder()
            .total_timeout(Duration::from_secs(10))
            .attempt_timeout(ms(150));
        if attempts > 1 {
            b = b.retry(retry(attempts));
        }
        let pipeline = b.build().unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let mut svc = pipeline.layer().layer(service_fn(move |n: u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                sleep(ms(60)).await;
                Ok::<_, std::io::Error>(n)
            }
        }));
        let start = tokio::time::Instant::now();
        let call = svc.ready().await.unwrap().call(1);
        tokio::time::advance(ms(100)).await;
        let out = call.await;
        if attempts == 1 {
            let err = out.unwrap_err();
            let elapsed = err.downcast_ref::<Elapsed>().expect("the attempt timeout");
            assert_eq!(elapsed.after(), ms(150));
            assert_eq!(start.elapsed(), ms(150));
        } else {
            // The first attempt timed out at 150 ms; the retry, 10 ms later, took its 60 ms.
            assert_eq!(out.unwrap(), 1);
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            assert_eq!(start.elapsed(), ms(220));
        }
    }
}

/// A future pending until its gate opens, then `Ok(n)`.
struct Gated(Arc<std::sync::atomic::AtomicBool>, u32);

impl Future for Gated {
    type Output = Result<u32, std::io::Error>;

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if self.0.load(Ordering::SeqCst) {
            Poll::Ready(Ok(self.1))
        } else {
            Poll::Pending
        }
    }
}

/// Through the layer too, a call that waits in the bulkhead's queue (with a `max_wait`, a total
/// and an attempt timeout) allocates nothing.
#[test]
fn a_call_queued_in_the_bulkhead_allocates_nothing_through_the_layer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pipeline = all_four(
        Bulkhead::builder()
            .max_concurrent(1)
            .max_queued(1)
            .max_wait(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = Arc::clone(&open);
    let mut svc = pipeline
        .layer()
        .layer(service_fn(move |n: u32| Gated(Arc::clone(&gate), n)));
    let mut cx = Context::from_waker(Waker::noop());
    let per_call = support::allocations_per_call(10, 1000, || {
        open.store(false, Ordering::SeqCst);
        assert!(svc.poll_ready(&mut cx).is_ready());
        let mut first = pin!(svc.call(1));
        assert!(svc.poll_ready(&mut cx).is_ready());
        let mut second = pin!(svc.call(2));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert_eq!(pipeline.bulkhead().unwrap().metrics().queued, 1);
        open.store(true, Ordering::SeqCst);
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(1))));
        assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(2))));
    });
    assert_eq!(per_call, 0.0);
}
