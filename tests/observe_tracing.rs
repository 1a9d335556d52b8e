//! With the `tracing` feature, every pattern event is a `tracing` event with typed, named fields:
//! the instance's `name`, reasons as short strings, figures as numbers; never a Debug string.
//!
//! One test in its own binary, with a global subscriber: `tracing` caches per call site whether
//! anyone listens, and tests in parallel without a subscriber would race that cache.
#![cfg(all(
    feature = "tracing",
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "health",
    feature = "saga",
    feature = "chaos",
    feature = "hedge",
    feature = "fallback"
))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// One field's value, as the event recorded it.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    F64(f64),
    U64(u64),
    I64(i64),
    Bool(bool),
    /// Recorded through `Debug` (or `Display`): what a typed field must not be.
    Debug(String),
}

#[derive(Clone, Debug)]
struct Captured {
    target: String,
    message: String,
    fields: BTreeMap<String, Value>,
}

impl Captured {
    fn str(&self, field: &str) -> Option<&str> {
        match self.fields.get(field) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, Value>, String);

impl Visit for Fields {
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.insert(f.name().into(), Value::F64(v));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.insert(f.name().into(), Value::I64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), Value::U64(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.insert(f.name().into(), Value::Bool(v));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), Value::Str(v.into()));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        if f.name() == "message" {
            self.1 = format!("{v:?}");
        } else {
            self.0
                .insert(f.name().into(), Value::Debug(format!("{v:?}")));
        }
    }
}

/// A layer that keeps every event of bulwark's targets.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let target = event.metadata().target();
        if !target.starts_with("bulwark::") || target == "bulwark::event" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(Captured {
            target: target.into(),
            message: fields.1,
            fields: fields.0,
        });
    }
}

impl Capture {
    fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The one event of `target` with `message`.
    fn find(events: &[Captured], target: &str, message: &str) -> Captured {
        events
            .iter()
            .find(|e| e.target == target && e.message == message)
            .unwrap_or_else(|| panic!("no {target} event {message:?} in {events:#?}"))
            .clone()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn pattern_events_are_tracing_events_with_typed_named_fields() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(scenario());
    let events = capture.take();

    // Every event names its instance, and no field is a Debug string.
    for e in &events {
        assert!(e.str("name").is_some(), "no name field: {e:#?}");
        for (field, value) in &e.fields {
            assert!(
                !matches!(value, Value::Debug(_)),
                "{field} recorded as a Debug string in {e:#?}"
            );
        }
    }

    let opened = Capture::find(&events, "bulwark::circuit_breaker", "circuit state changed");
    assert_eq!(opened.str("name"), Some("payments"));
    assert_eq!(opened.str("from"), Some("closed"));
    assert_eq!(opened.str("to"), Some("open"));
    assert_eq!(opened.str("reason"), Some("failure_rate"));
    assert_eq!(opened.fields.get("failure_rate"), Some(&Value::F64(0.6)));

    let rejected = Capture::find(&events, "bulwark::circuit_breaker", "call rejected");
    assert_eq!(rejected.str("state"), Some("open"));
    assert!(matches!(rejected.fields.get("retry_after_s"), Some(Value::F64(s)) if *s > 0.0));

    let recorded = Capture::find(&events, "bulwark::circuit_breaker", "call recorded");
    assert_eq!(recorded.fields.get("slow"), Some(&Value::Bool(false)));

    let gave_up = Capture::find(&events, "bulwark::retry", "gave up");
    assert_eq!(gave_up.str("name"), Some("payments"));
    assert_eq!(gave_up.str("reason"), Some("attempts"));
    assert_eq!(gave_up.fields.get("attempts"), Some(&Value::U64(2)));
    let retrying = Capture::find(&events, "bulwark::retry", "retrying");
    assert_eq!(retrying.str("reason"), Some("error"));
    assert_eq!(retrying.fields.get("delay_s"), Some(&Value::F64(0.01)));

    let full = Capture::find(&events, "bulwark::bulkhead", "rejected");
    assert_eq!(full.str("name"), Some("slots"));
    assert_eq!(full.str("reason"), Some("queue_full"));
    let moved = Capture::find(&events, "bulwark::bulkhead", "limit changed");
    assert_eq!(moved.str("name"), Some("adaptive"));
    assert_eq!(moved.fields.get("from"), Some(&Value::U64(8)));
    assert_eq!(moved.fields.get("to"), Some(&Value::U64(4)));

    let timed_out = Capture::find(&events, "bulwark::timeout", "timed out");
    assert_eq!(timed_out.str("name"), Some("lookup"));
    assert_eq!(timed_out.fields.get("after_s"), Some(&Value::F64(0.025)));

    let injected = Capture::find(&events, "bulwark::chaos", "fault injected");
    assert_eq!(injected.str("fault"), Some("error"));

    let check = Capture::find(&events, "bulwark::health", "health check status changed");
    assert_eq!(check.str("name"), Some("orders"));
    assert_eq!(check.str("check"), Some("db"));
    assert_eq!(check.str("to"), Some("healthy"));

    let hedged = Capture::find(&events, "bulwark::hedge", "hedged");
    assert_eq!(hedged.str("name"), Some("replicas"));
    assert_eq!(hedged.fields.get("attempt"), Some(&Value::U64(2)));
    assert_eq!(hedged.fields.get("after_s"), Some(&Value::F64(0.01)));
    let won = Capture::find(&events, "bulwark::hedge", "hedge won");
    assert_eq!(won.fields.get("attempt"), Some(&Value::U64(2)));

    let used = Capture::find(&events, "bulwark::fallback", "fallback used");
    assert_eq!(used.str("name"), Some("cached"));
    assert_eq!(used.str("reason"), Some("timeout"));

    let finished = Capture::find(&events, "bulwark::saga", "saga finished");
    assert_eq!(finished.str("name"), Some("order"));
    assert_eq!(finished.str("outcome"), Some("completed"));
    assert_eq!(
        finished.str("saga").map(str::len).map(|n| n > 0),
        Some(true)
    );
}

async fn scenario() {
    use bulwark::BoxError;
    use bulwark::backoff::{Backoff, Jitter};
    use bulwark::bulkhead::Bulkhead;
    use bulwark::chaos::Chaos;
    use bulwark::circuit_breaker::CircuitBreaker;
    use bulwark::health::{Check, Health, HealthAggregator};
    use bulwark::retry::Retry;
    use bulwark::saga::{Saga, Step};
    use bulwark::timeout::Timeout;

    // Three failures in five calls: a failure rate of 0.6 opens the circuit.
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .count_window(5)
        .minimum_calls(5)
        .failure_rate_threshold(0.5)
        .build()
        .unwrap();
    for fail in [true, false, true, false, true] {
        let _ = breaker
            .run(|| async move { if fail { Err("503") } else { Ok(()) } })
            .await;
    }
    let _ = breaker.run(|| async { Ok::<_, &str>(()) }).await;

    let retry = Retry::builder()
        .name("payments")
        .max_attempts(2)
        .backoff(
            Backoff::constant(ms(10))
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let _ = retry.run(|_| async { Err::<(), _>("no") }).await;

    let adaptive = Bulkhead::builder()
        .name("adaptive")
        .adaptive(
            bulwark::bulkhead::Aimd::builder()
                .initial_limit(8)
                .backoff(0.5)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let _ = adaptive.run(|| async { Err::<(), _>("unavailable") }).await;
    let slots = Bulkhead::builder()
        .name("slots")
        .max_concurrent(1)
        .build()
        .unwrap();
    let held = slots.clone();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        held.run(|| async {
            let _ = wait.await;
            Ok::<_, &str>(())
        })
        .await
    });
    tokio::task::yield_now().await;
    let _ = slots.run(|| async { Ok::<_, &str>(()) }).await;
    let _ = release.send(());
    let _ = holder.await;

    let _ = Timeout::new(ms(25))
        .name("lookup")
        .run(std::future::pending::<()>())
        .await;

    let chaos = Chaos::builder()
        .seed(3)
        .error(1.0, || "injected")
        .build()
        .unwrap();
    let _ = chaos.run(|| async { Ok::<_, &str>(()) }).await;

    let health = HealthAggregator::builder()
        .name("orders")
        .check(Check::from_fn("db", || async { Health::healthy() }))
        .build()
        .unwrap();
    health.report().await;

    let hedge = bulwark::hedge::Hedge::builder()
        .name("replicas")
        .delay(ms(10))
        .build()
        .unwrap();
    let mut attempt = 0;
    let _ = hedge
        .run(|| {
            attempt += 1;
            let wait = if attempt == 1 { ms(50) } else { ms(1) };
            async move {
                tokio::time::sleep(wait).await;
                Ok::<_, &str>(())
            }
        })
        .await;

    let fallback = bulwark::fallback::Fallback::builder(|_| 0)
        .name("cached")
        .build()
        .unwrap();
    let _ = fallback
        .run(|| async {
            let slow = std::future::pending::<Result<i32, ()>>();
            Timeout::new(ms(5))
                .run(slow)
                .await?
                .map_err(bulwark::Error::Inner)
        })
        .await;

    let mut b = Saga::<u32>::builder("order");
    b.step(Step::new("reserve", |_ctx| async { Ok::<_, BoxError>(()) }));
    let saga = b.build().unwrap();
    let _ = saga.run(1).await.unwrap();
}
