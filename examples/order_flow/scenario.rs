//! The order-flow scenario, shared by `examples/order_flow/main.rs` (which prints it) and
//! `tests/order_flow.rs` (which checks its facts). It is example code, not library API.
//!
//! One process: three downstream services (inventory, payment, shipping), each a tower service
//! with seeded fault injection in front (`services.rs`), and what it reports (`report.rs`); a gateway that calls them through bulwark
//! stacks and places orders with a saga; a health aggregator over the breakers and the gateway's
//! bulkhead. The script below breaks things on purpose, one phase at a time.

use crate::quotes::Quotes;
use crate::report::{OrderResult, Report};
use crate::services::{Downstream, OPEN_FOR, SEED, Transitions, chain, step};
use bulwark::BoxError;
use bulwark::Error;
use bulwark::backoff::{Backoff, Jitter};
use bulwark::bulkhead::Bulkhead;
use bulwark::chaos::FaultKind;
use bulwark::health::{
    BulkheadCheck, Check, CircuitBreakerCheck, HealthAggregator, KeyedCircuitBreakerCheck, Status,
    Tag,
};
use bulwark::retry::{Event as RetryEvent, Retry};
use bulwark::saga::{Cause, Outcome, Saga};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Runs the whole scenario. Call it on a runtime with paused time
/// (`#[tokio::main(flavor = "current_thread", start_paused = true)]`): the stalls and open
/// durations then take no real time, and the story is the same on every run.
pub(crate) async fn run() -> Result<Report, BoxError> {
    let transitions = Transitions::default();
    let inventory = Downstream::new("inventory", SEED, &transitions)?;
    let payment = Downstream::new("payment", SEED + 1, &transitions)?;
    let shipping = Downstream::new("shipping", SEED + 2, &transitions)?;

    let retries = Arc::new(AtomicU64::new(0));
    let counter = retries.clone();
    let retry = Retry::builder()
        .name("order-gateway")
        .max_attempts(3)
        .stop_retrying_after(Duration::from_secs(2))
        .backoff(
            Backoff::exponential(Duration::from_millis(100))
                .jitter(Jitter::None)
                .build()?,
        )
        .on_event(move |event| {
            if let RetryEvent::Retrying { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()?;

    let mut saga = Saga::<u64>::builder("place-order");
    saga.step(step("reserve-inventory", inventory.client("R", &retry)?));
    saga.step(step("charge-payment", payment.client("CH", &retry)?));
    saga.step(step("create-shipment", shipping.client("TRK", &retry)?));
    let saga = saga.build()?;

    // The gateway takes four orders at a time and turns the rest away at once.
    let slots = Bulkhead::builder()
        .name("order-slots")
        .max_concurrent(4)
        .max_queued(0)
        .build()?;
    let quotes = Quotes::new()?;
    let breaker_check = |name: &'static str, d: &Downstream| {
        Check::new(name, CircuitBreakerCheck::new(d.breaker.clone())).readiness()
    };
    let health = HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(breaker_check("inventory", &inventory))
        .check(breaker_check("payment", &payment))
        .check(breaker_check("shipping", &shipping))
        .check(Check::new("order-slots", BulkheadCheck::new(slots.clone())).readiness())
        .check(
            Check::new(
                "carriers",
                KeyedCircuitBreakerCheck::new(quotes.per_carrier.clone()),
            )
            .readiness(),
        )
        .build()?;

    let mut s = Script {
        start: Instant::now(),
        report: Report::default(),
        saga,
        slots,
        health,
        retries,
        transitions,
        next: 1,
    };

    s.say("== 1. Business as usual ==");
    s.health("start").await;
    for _ in 0..4 {
        s.order().await;
    }

    s.say("== 2. Payment slows down: 30% of its calls stall for 2 s, each attempt gets 250 ms ==");
    payment.chaos.set_rate(FaultKind::Latency, 0.3)?;
    let before = s.retries();
    for _ in 0..6 {
        s.order().await;
    }
    payment.chaos.set_rate(FaultKind::Latency, 0.0)?;
    let spent = s.retries() - before;
    s.say(format!(
        "retries absorbed the stalls: {spent} retries, payment breaker {:?}",
        payment.breaker.state()
    ));

    s.say("== 3. Payment fails hard: every call answers 503 ==");
    payment.chaos.set_rate(FaultKind::Error, 1.0)?;
    for _ in 0..5 {
        s.order().await;
    }
    let rejected = payment.breaker.metrics().rejected;
    s.say(format!(
        "the open breaker refused {rejected} payment calls without sending them"
    ));
    s.health("payment down").await;

    s.say("== 4. Payment recovers; after the open duration, probes close the breaker ==");
    payment.chaos.set_rate(FaultKind::Error, 0.0)?;
    tokio::time::sleep(OPEN_FOR).await;
    for _ in 0..3 {
        s.order().await;
    }
    s.health("payment back").await;

    s.say("== 5. Shipping refuses an order that was already charged ==");
    shipping.chaos.set_rate(FaultKind::Error, 1.0)?;
    s.order().await;
    shipping.chaos.set_rate(FaultKind::Error, 0.0)?;

    s.say("== 6. A burst of 10 orders at once; the gateway has 4 slots and no queue ==");
    s.burst(10).await;
    s.health("after the burst").await;

    s.say("== 7. Quotes: a rate limit per client, a breaker per carrier host ==");
    s.quotes(&quotes).await;
    s.health("ups down").await;

    s.report.retries = s.retries();
    s.report.rejected_fast = payment.breaker.metrics().rejected;
    s.report.reserved = inventory.ledger.held();
    s.report.charged = payment.ledger.held();
    s.report.shipped = shipping.ledger.held();
    Ok(s.report)
}

/// Places one order through the gateway's bulkhead and saga.
async fn place(saga: &Saga<u64>, slots: &Bulkhead, order: u64) -> OrderResult {
    match slots
        .run(|| saga.run_with_id(format!("order-{order}"), order))
        .await
    {
        Ok(Outcome::Completed(_)) => OrderResult::Placed,
        Ok(Outcome::Compensated(undone)) => match undone.cause() {
            Cause::Step(failure) => OrderResult::Compensated {
                step: failure.step(),
                error: chain(failure.error()),
                undone: undone.compensated().to_vec(),
            },
            other => OrderResult::Other(format!("{other:?}")),
        },
        Ok(Outcome::Parked(parked)) => OrderResult::Other(parked.to_string()),
        Err(Error::BulkheadFull(_)) => OrderResult::Shed,
        Err(e) => OrderResult::Other(e.to_string()),
    }
}

/// A readiness report in one line: the status, then every check that is not healthy.
fn describe(report: &bulwark::health::HealthReport) -> String {
    let mut line = format!("{:?}", report.status());
    for check in report
        .checks()
        .iter()
        .filter(|c| c.status() != Status::Healthy)
    {
        let why = check.message().unwrap_or("no message");
        line.push_str(&format!(" ({} {:?}: {why})", check.name(), check.status()));
    }
    line
}

/// The scenario's state between phases.
struct Script {
    start: Instant,
    report: Report,
    saga: Saga<u64>,
    slots: Bulkhead,
    health: HealthAggregator,
    retries: Arc<AtomicU64>,
    transitions: Transitions,
    next: u64,
}

impl Script {
    fn say(&mut self, line: impl AsRef<str>) {
        let t = self.start.elapsed().as_secs_f64();
        self.report
            .narrative
            .push(format!("[{t:7.3}s] {}", line.as_ref()));
    }

    fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Narrates the breakers' state changes since the last call.
    fn breaker_news(&mut self) {
        for (name, from, to) in self.transitions.take() {
            self.say(format!("  {name} breaker: {from:?} -> {to:?}"));
            self.report.transitions.push((name, from, to));
        }
    }

    async fn order(&mut self) {
        let order = self.next;
        self.next += 1;
        let before = self.retries();
        let result = place(&self.saga, &self.slots, order).await;
        let retried = match self.retries() - before {
            0 => String::new(),
            1 => " (after 1 retry)".to_string(),
            n => format!(" (after {n} retries)"),
        };
        self.breaker_news();
        let line = match &result {
            OrderResult::Placed => format!("order {order}: placed{retried}"),
            OrderResult::Compensated {
                step,
                error,
                undone,
            } => format!(
                "order {order}: FAILED at {step}{retried}: {error}\n{:11}  saga compensated: {}",
                "",
                if undone.is_empty() {
                    "nothing to undo".to_string()
                } else {
                    undone.join(", ")
                }
            ),
            OrderResult::Shed => format!("order {order}: shed by the gateway's bulkhead"),
            OrderResult::Other(e) => format!("order {order}: unexpected outcome: {e}"),
        };
        self.say(line);
        self.report.orders.push((order, result));
    }

    async fn burst(&mut self, n: u64) {
        let first = self.next;
        self.next += n;
        let orders = (first..first + n).map(|order| place(&self.saga, &self.slots, order));
        let (results, mid) = tokio::join!(futures::future::join_all(orders), async {
            tokio::task::yield_now().await;
            self.health.report_for(Tag::Readiness).await
        });
        self.say(format!("health (mid-burst): {}", describe(&mid)));
        self.report.health.push(("mid-burst", mid.status()));
        let placed = results
            .iter()
            .filter(|r| **r == OrderResult::Placed)
            .count();
        let shed = results.iter().filter(|r| **r == OrderResult::Shed).count();
        self.say(format!(
            "orders {first}..={}: {placed} placed, {shed} shed at once",
            first + n - 1
        ));
        self.report.orders.extend((first..).zip(results));
    }

    /// The quotes phase: one client over its limit while the others pass, then one carrier down
    /// while the other carriers keep answering.
    async fn quotes(&mut self, quotes: &Quotes) {
        let ask = async |s: &mut Self, client: &'static str, carrier: &'static str| {
            let result = quotes.ask(client, carrier).await;
            s.report.quotes.push((client, carrier, result.clone()));
            result
        };
        // A scraper sends five requests at once; two other clients one each.
        let mut line = Vec::new();
        for client in [
            "scraper", "scraper", "alice", "scraper", "scraper", "scraper", "bob",
        ] {
            let result = ask(self, client, "dhl.example").await;
            line.push(format!("{client} {result:?}"));
        }
        self.say(format!("quotes from dhl.example: {}", line.join(", ")));
        let limits = &quotes.per_client;
        self.say(format!(
            "per-client limits: {} clients, scraper over its own limit, alice and bob within theirs",
            limits.metrics().keys
        ));

        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        quotes
            .down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert("ups.example");
        let mut line = Vec::new();
        let clients = ["alice", "bob", "carol", "dave", "erin", "frank"];
        let carriers = [
            "ups.example",
            "fedex.example",
            "ups.example",
            "ups.example",
            "ups.example",
            "dhl.example",
        ];
        for (client, carrier) in clients.into_iter().zip(carriers) {
            let result = ask(self, client, carrier).await;
            line.push(format!("{carrier} {result:?}"));
        }
        self.say(format!("ups.example goes down: {}", line.join(", ")));
        self.report.carriers = quotes.carrier_states();
        let states: Vec<String> = self
            .report
            .carriers
            .iter()
            .map(|(c, s)| format!("{c} {s:?}"))
            .collect();
        self.say(format!("carrier breakers: {}", states.join(", ")));
    }

    async fn health(&mut self, checkpoint: &'static str) {
        let report = self.health.report_for(Tag::Readiness).await;
        self.say(format!("health ({checkpoint}): {}", describe(&report)));
        self.report.health.push((checkpoint, report.status()));
    }
}
