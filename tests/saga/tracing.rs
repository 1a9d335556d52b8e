//! The `tracing` spans of a saga run. Alone in its test binary: `tracing` caches per call site
//! whether anyone listens, and tests running in parallel without a subscriber would race it.
#![cfg(all(feature = "saga", feature = "tracing"))]

use bulwark::BoxError;
use bulwark::saga::{Saga, Step};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, subscriber::Subscriber};

/// Records the names of the spans created.
struct Spans(Arc<Mutex<Vec<&'static str>>>, AtomicU64);

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.0.lock().unwrap().push(span.metadata().name());
        Id::from_u64(self.1.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_run_is_a_saga_span_with_a_span_per_step_and_compensation_attempt() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let subscriber = Spans(names.clone(), AtomicU64::new(0));
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let mut b = Saga::<u32>::builder("traced");
        b.step(
            Step::new("a", |_ctx| async { Ok::<_, BoxError>(()) })
                .compensate(|_ctx| async { Ok::<_, BoxError>(()) }),
        );
        b.step(Step::new("b", |_ctx| async {
            Err::<(), BoxError>("no".into())
        }));
        let saga = b.build().unwrap();
        let _ = rt.block_on(saga.run(0)).unwrap();
    });
    assert_eq!(
        *names.lock().unwrap(),
        ["saga", "step", "step", "compensation"]
    );
}
