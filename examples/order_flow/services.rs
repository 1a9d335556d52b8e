//! The order flow's downstream services (inventory, payment, shipping) and the gateway's
//! resilience stacks around them. Example code, shared with `tests/order_flow.rs`.

use bulwark::bulkhead::Bulkhead;
use bulwark::chaos::Chaos;
use bulwark::circuit_breaker::{CircuitBreaker, Event as BreakerEvent, State};
use bulwark::retry::Retry;
use bulwark::saga::{Step, StepContext};
use bulwark::{BoxError, ServiceBuilderExt};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

/// The seed of every random draw in the scenario: same seed, same story.
pub(crate) const SEED: u64 = 42;
/// Each attempt at a downstream call gets this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a slowed-down payment takes (well past the attempt timeout).
const PAYMENT_STALL: Duration = Duration::from_secs(2);
/// How long an open circuit stays open.
pub(crate) const OPEN_FOR: Duration = Duration::from_secs(5);

/// What the gateway asks of a downstream: do the thing for an order, or undo it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Call {
    Do(u64),
    Undo(u64),
}

/// A downstream as the gateway's saga steps see it: through its whole resilience stack.
pub(crate) type Client = BoxCloneSyncService<Call, String, BoxError>;

/// The effects a downstream has in place, by order: reservations held, charges not refunded,
/// shipments booked.
#[derive(Clone, Default)]
pub(crate) struct Ledger(Arc<Mutex<BTreeSet<u64>>>);

impl Ledger {
    pub(crate) fn set(&self, order: u64, on: bool) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            held.insert(order);
        } else {
            held.remove(&order);
        }
    }

    pub(crate) fn held(&self) -> BTreeSet<u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A downstream service (20 ms per call, recording its effects in its ledger), the chaos
/// handle that injects faults in front of it, and the gateway's circuit breaker for it.
pub(crate) struct Downstream {
    pub(crate) chaos: Chaos<BoxError>,
    pub(crate) ledger: Ledger,
    pub(crate) breaker: CircuitBreaker,
}

impl Downstream {
    pub(crate) fn new(
        name: &'static str,
        seed: u64,
        transitions: &Transitions,
    ) -> Result<Self, BoxError> {
        let chaos = Chaos::builder()
            .seed(seed)
            .error(0.0, move || {
                BoxError::from(format!("{name}: 503 service unavailable"))
            })
            .latency(0.0, PAYMENT_STALL)
            .build()?;
        let transitions = transitions.clone();
        let breaker = CircuitBreaker::builder()
            .name(name)
            .count_window(10)
            .minimum_calls(6)
            .failure_rate_threshold(0.5)
            .open_duration(OPEN_FOR)
            .permitted_calls_in_half_open(2)
            .on_event(move |event| {
                if let BreakerEvent::StateChanged { from, to, .. } = event {
                    transitions.push(name, *from, *to);
                }
            })
            .build()?;
        Ok(Self {
            chaos,
            ledger: Ledger::default(),
            breaker,
        })
    }

    /// The gateway's client: retry → circuit breaker → bulkhead → per-attempt timeout → (chaos
    /// → the downstream itself). The retry is outermost so that each attempt goes through the
    /// breaker (which then counts every timed-out attempt, and refuses attempts while open) and
    /// holds a bulkhead slot only while it runs, not while it waits to retry.
    pub(crate) fn client(&self, prefix: &'static str, retry: &Retry) -> Result<Client, BoxError> {
        let ledger = self.ledger.clone();
        let downstream = service_fn(move |call: Call| {
            let ledger = ledger.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match call {
                    Call::Do(order) => {
                        ledger.set(order, true);
                        Ok::<_, BoxError>(format!("{prefix}-{order}"))
                    }
                    Call::Undo(order) => {
                        ledger.set(order, false);
                        Ok(String::new())
                    }
                }
            }
        });
        let bulkhead = Bulkhead::builder()
            .name(self.breaker.name())
            .max_concurrent(8)
            .max_queued(8)
            .build()?;
        let stack = ServiceBuilder::new()
            .bulwark_retry(retry)
            .circuit_breaker(&self.breaker)
            .bulkhead(&bulkhead)
            .bulwark_timeout(ATTEMPT_TIMEOUT)
            .layer(self.chaos.layer())
            .service(downstream);
        Ok(BoxCloneSyncService::new(stack))
    }
}

/// One breaker state change: the downstream's name, from, to.
pub(crate) type Transition = (&'static str, State, State);

/// Every state change of every breaker, in order.
#[derive(Clone, Default)]
pub(crate) struct Transitions(Arc<Mutex<Vec<Transition>>>);

impl Transitions {
    pub(crate) fn push(&self, name: &'static str, from: State, to: State) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, from, to));
    }

    pub(crate) fn take(&self) -> Vec<Transition> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A saga step that asks `client` to do its thing for the order, and to undo it.
pub(crate) fn step(name: &'static str, client: Client) -> Step<u64, String> {
    let undo = client.clone();
    Step::new(name, move |ctx: StepContext<u64>| {
        send(client.clone(), Call::Do(*ctx.input()))
    })
    .compensate(move |ctx| {
        let done = send(undo.clone(), Call::Undo(*ctx.input()));
        async move { done.await.map(drop) }
    })
}

async fn send(mut client: Client, call: Call) -> Result<String, BoxError> {
    client.ready().await?.call(call).await
}

/// What a step's error says: its sources (what the downstream or the stack said), or itself.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}
