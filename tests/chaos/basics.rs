//! Fault injection: seeded, rate-honouring, switchable, cancellable.
#![cfg(feature = "chaos")]

use bulwark::chaos::{Chaos, Event, Fault, FaultKind};
use futures::{FutureExt, poll};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt, service_fn};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn outcomes(chaos: &Chaos<&'static str>, n: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(chaos.run(|| async { Ok::<_, &str>(()) }).await.is_ok());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn same_seed_replays_the_same_faults() {
    let make = |seed| {
        Chaos::builder()
            .seed(seed)
            .error(0.5, || "boom")
            .build()
            .unwrap()
    };
    let a = outcomes(&make(11), 200).await;
    let b = outcomes(&make(11), 200).await;
    let c = outcomes(&make(12), 200).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test(start_paused = true)]
async fn error_rate_is_honoured_and_the_inner_call_is_not_made() {
    let chaos = Chaos::builder()
        .seed(3)
        .error(0.3, || "boom")
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let mut errors = 0;
    for _ in 0..10_000 {
        let r = chaos
            .run(|| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Ok::<_, &str>(()) }
            })
            .await;
        if let Err(e) = r {
            assert_eq!(e, "boom");
            errors += 1;
        }
    }
    assert!(
        (2_700..3_300).contains(&errors),
        "{errors} errors in 10000 at rate 0.3"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 10_000 - errors);
}

#[tokio::test(start_paused = true)]
async fn latency_delays_the_call_by_exactly_the_configured_time() {
    let chaos = Chaos::builder()
        .seed(1)
        .latency(1.0, ms(300))
        .build()
        .unwrap();
    let polled = Arc::new(AtomicUsize::new(0));
    let p = polled.clone();
    let mut fut = pin!(chaos.run(move || async move {
        p.fetch_add(1, Ordering::SeqCst);
        Ok::<_, &str>(5)
    }));
    assert!(poll!(fut.as_mut()).is_pending());
    advance(ms(299)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    assert_eq!(
        polled.load(Ordering::SeqCst),
        0,
        "inner future polled during the delay"
    );
    advance(ms(1)).await;
    assert_eq!(poll!(fut.as_mut()), std::task::Poll::Ready(Ok(5)));
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn hang_never_completes_and_dropping_it_drops_the_inner_future() {
    let chaos = Chaos::<&str>::builder().seed(1).hang(1.0).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(drops.clone());
    let mut fut = Box::pin(chaos.run(move || async move {
        let _flag = flag;
        Ok::<_, &str>(())
    }));
    assert!(poll!(fut.as_mut()).is_pending());
    advance(Duration::from_secs(3600)).await;
    assert!(poll!(fut.as_mut()).is_pending());
    drop(fut);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn switch_and_rates_change_at_run_time_for_every_clone_and_service() {
    let chaos = Chaos::builder()
        .seed(5)
        .error(1.0, || "boom")
        .build()
        .unwrap();
    let mut svc = chaos
        .layer()
        .layer(service_fn(|n: u32| async move { Ok::<_, &str>(n) }));
    let mut clone = svc.clone();
    assert_eq!(svc.ready().await.unwrap().call(1).await, Err("boom"));

    chaos.clone().set_enabled(false);
    assert_eq!(clone.ready().await.unwrap().call(2).await, Ok(2));
    assert!(!chaos.is_enabled());

    chaos.set_enabled(true);
    chaos.set_rate(FaultKind::Error, 0.0).unwrap();
    assert_eq!(svc.ready().await.unwrap().call(3).await, Ok(3));
}

#[test]
fn invalid_probabilities_are_rejected_naming_the_field() {
    let err = Chaos::<()>::builder().hang(1.5).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid chaos setting `hang`: probability 1.5 is not within [0, 1]"
    );
    let err = Chaos::builder().error(-0.1, || ()).build().unwrap_err();
    assert!(err.to_string().contains("`error`"));
    let err = Chaos::<()>::builder()
        .latency(f64::NAN, ms(1))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("`latency`"));

    let chaos = Chaos::<()>::builder().build().unwrap();
    let err = chaos.set_rate(FaultKind::Error, 0.5).unwrap_err();
    assert!(err.to_string().contains("no error closure"));
    assert!(chaos.set_rate(FaultKind::Latency, 2.0).is_err());
}

#[tokio::test(start_paused = true)]
async fn every_injected_fault_is_an_event() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let chaos = Chaos::builder()
        .seed(9)
        .error(0.2, || "boom")
        .latency(0.5, ms(10))
        .on_event(move |e| s.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let mut errors = 0;
    for _ in 0..100 {
        if chaos.run(|| async { Ok::<_, &str>(()) }).await.is_err() {
            errors += 1;
        }
    }
    let seen = seen.lock().unwrap();
    let injected_errors = seen
        .iter()
        .filter(|e| {
            **e == Event::Injected {
                name: "chaos".into(),
                fault: Fault::Error,
            }
        })
        .count();
    assert_eq!(injected_errors, errors);
    assert!(seen.iter().any(|e| *e
        == Event::Injected {
            name: "chaos".into(),
            fault: Fault::Latency(ms(10))
        }));
}

#[test]
fn no_fault_configured_injects_nothing() {
    let chaos = Chaos::<&str>::builder().build().unwrap();
    for _ in 0..100 {
        assert_eq!(
            chaos.run(|| async { Ok::<_, &str>(1) }).now_or_never(),
            Some(Ok(1))
        );
    }
}
