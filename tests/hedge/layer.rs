//! The tower door: cloned requests, each hedge on its own clone made ready first, the inner
//! service's errors unchanged.

use crate::ms;
use bulwark::hedge::Hedge;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::time::{Instant, sleep};
use tower::{Layer, Service, ServiceExt};

/// A service whose `n`-th call takes `latencies[n]` and answers with its request and `n`; counts
/// the readiness polls of every clone and the calls made on a clone that was not made ready.
#[derive(Clone)]
struct Replicas {
    latencies: Arc<Vec<u64>>,
    calls: Arc<AtomicUsize>,
    readied: bool,
    unready_calls: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Service<String> for Replicas {
    type Response = (String, usize);
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(String, usize), std::io::Error>> + Send>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.readied = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: String) -> Self::Future {
        if !std::mem::take(&mut self.readied) {
            self.unready_calls.fetch_add(1, Ordering::SeqCst);
        }
        self.requests.lock().unwrap().push(req.clone());
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let latency = self.latencies.get(n).copied().unwrap_or(0);
        Box::pin(async move {
            sleep(ms(latency)).await;
            if latency == 999 {
                return Err(std::io::Error::other("replica down"));
            }
            Ok((req, n))
        })
    }
}

fn replicas(latencies: &[u64]) -> Replicas {
    Replicas {
        latencies: Arc::new(latencies.to_vec()),
        calls: Arc::default(),
        readied: false,
        unready_calls: Arc::default(),
        requests: Arc::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn tower_hedges_send_a_clone_of_the_request_on_a_readied_clone() {
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let inner = replicas(&[500, 5]);
    let (unready, requests) = (inner.unready_calls.clone(), inner.requests.clone());
    let mut svc = h.layer().layer(inner);
    let start = Instant::now();
    let (req, n) = svc
        .ready()
        .await
        .unwrap()
        .call("key-7".to_owned())
        .await
        .unwrap();
    assert_eq!((req.as_str(), n), ("key-7", 1));
    assert_eq!(start.elapsed(), ms(25));
    assert_eq!(*requests.lock().unwrap(), ["key-7", "key-7"]);
    assert_eq!(
        unready.load(Ordering::SeqCst),
        0,
        "every call on a readied service"
    );
}

#[tokio::test(start_paused = true)]
async fn tower_errors_stay_the_inner_services_own() {
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let mut svc = h.layer().layer(replicas(&[999, 999]));
    let err: std::io::Error = svc
        .ready()
        .await
        .unwrap()
        .call("k".to_owned())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "replica down");
}

#[tokio::test(start_paused = true)]
async fn every_service_of_one_layer_shares_the_hedges_counters() {
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let layer = h.layer();
    let mut a = layer.layer(replicas(&[500, 1]));
    let mut b = layer.layer(replicas(&[500, 1])).clone();
    a.ready().await.unwrap().call("a".into()).await.unwrap();
    b.ready().await.unwrap().call("b".into()).await.unwrap();
    let m = h.metrics();
    assert_eq!((m.calls, m.hedges, m.hedge_wins), (2, 2, 2));
}

/// A service whose clones share one gate: `poll_ready` waits while it is shut. Counts calls.
#[derive(Clone)]
struct Gated {
    open: Arc<std::sync::atomic::AtomicBool>,
    waker: Arc<Mutex<Option<std::task::Waker>>>,
    calls: Arc<AtomicUsize>,
}

impl Service<u32> for Gated {
    type Response = usize;
    type Error = std::io::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.open.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn call(&mut self, _: u32) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            // The first call hangs; later ones answer at once.
            if n == 0 {
                std::future::pending::<()>().await;
            }
            Ok(n)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_hedge_waits_for_its_clone_to_be_ready_before_calling_it() {
    let h = Hedge::builder().delay(ms(10)).no_budget().build().unwrap();
    let gated = Gated {
        open: Arc::new(true.into()),
        waker: Arc::default(),
        calls: Arc::default(),
    };
    let (open, waker, calls) = (gated.open.clone(), gated.waker.clone(), gated.calls.clone());
    let mut svc = h.layer().layer(gated);
    svc.ready().await.unwrap();
    let call = tokio::spawn(svc.call(1));
    // The gate shuts after the first call: the hedge, due at 10 ms, must wait for readiness.
    open.store(false, Ordering::SeqCst);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::advance(ms(50)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(h.metrics().hedges, 1, "the hedge was sent at the delay");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "but not called before its clone was ready"
    );
    open.store(true, Ordering::SeqCst);
    waker
        .lock()
        .unwrap()
        .take()
        .expect("the hedge waits for readiness")
        .wake();
    assert_eq!(call.await.unwrap().unwrap(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[cfg(feature = "bulkhead")]
#[tokio::test(start_paused = true)]
async fn a_dropped_loser_gives_its_bulkhead_slot_back() {
    use bulwark::ServiceBuilderExt;
    let bulkhead = bulwark::bulkhead::Bulkhead::builder()
        .max_concurrent(4)
        .build()
        .unwrap();
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let mut svc = tower::ServiceBuilder::new()
        .hedge(&h)
        .bulkhead(&bulkhead)
        .service(replicas(&[500, 5]));
    let (_, n) = svc.ready().await.unwrap().call("k".into()).await.unwrap();
    assert_eq!(n, 1, "the hedge answered");
    assert_eq!(
        bulkhead.metrics().in_flight,
        0,
        "the loser's slot is free again"
    );
}

#[cfg(feature = "circuit-breaker")]
#[tokio::test(start_paused = true)]
async fn an_open_circuit_turns_a_hedge_away_and_the_first_attempt_still_answers() {
    use bulwark::ServiceBuilderExt;
    let breaker = bulwark::circuit_breaker::CircuitBreaker::builder()
        .build()
        .unwrap();
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let inner = replicas(&[50, 5]);
    let calls = inner.calls.clone();
    let mut svc = tower::ServiceBuilder::new()
        .hedge(&h)
        .circuit_breaker(&breaker)
        .service(inner);
    let call = svc.ready().await.unwrap().call("k".into());
    let call = tokio::spawn(call);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    breaker.force_open();
    let (_, n) = call.await.unwrap().unwrap();
    assert_eq!(n, 0, "the first attempt answered at 50 ms");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the hedge never reached the service"
    );
    assert_eq!(h.metrics().hedges, 1);
}

/// The `Debug` output of a response future names its state and counts the attempts sent.
#[tokio::test(start_paused = true)]
async fn the_debug_output_of_a_response_future_names_its_state() {
    let h = Hedge::builder().delay(ms(20)).no_budget().build().unwrap();
    let mut svc = h.layer().layer(replicas(&[5]));
    let mut call = Box::pin(svc.ready().await.unwrap().call("k".to_owned()));
    assert_eq!(
        format!("{call:?}"),
        r#"ResponseFuture { state: "not started", sent: 0 }"#
    );
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(
        format!("{call:?}"),
        r#"ResponseFuture { state: "running", sent: 1 }"#
    );
    call.as_mut().await.unwrap();
    assert_eq!(
        format!("{call:?}"),
        r#"ResponseFuture { state: "done", sent: 1 }"#
    );
}
