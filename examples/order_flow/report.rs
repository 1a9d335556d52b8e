//! What the order-flow scenario reports: how each order ended, what each pattern did, and the
//! summary table. Example code, shared with `tests/order_flow.rs`.

use crate::quotes::QuoteResult;
use crate::services::Transition;
use bulwark::circuit_breaker::State;
use bulwark::health::Status;
use std::collections::BTreeSet;

/// How one order ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OrderResult {
    /// Every step completed.
    Placed,
    /// A step failed; the steps before it were undone (listed, in the order undone).
    Compensated {
        step: &'static str,
        error: String,
        undone: Vec<&'static str>,
    },
    /// The gateway's bulkhead turned it away before anything ran.
    Shed,
    /// Anything else (a parked saga, an orchestrator error): never expected here.
    Other(String),
}

/// What happened, for the narrative and for the test.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The story, line by line, each stamped with the scenario's (paused) clock.
    pub(crate) narrative: Vec<String>,
    /// Every order and how it ended, in the order placed.
    pub(crate) orders: Vec<(u64, OrderResult)>,
    /// Every breaker state change: the downstream's name, from, to.
    pub(crate) transitions: Vec<Transition>,
    /// The readiness status at each health checkpoint, with the checkpoint's name.
    pub(crate) health: Vec<(&'static str, Status)>,
    /// Retries made by the gateway's clients.
    pub(crate) retries: u64,
    /// Calls the open payment breaker refused without calling payment.
    pub(crate) rejected_fast: u64,
    /// Effects still in place at the end, by order.
    pub(crate) reserved: BTreeSet<u64>,
    /// Charges not refunded at the end.
    pub(crate) charged: BTreeSet<u64>,
    /// Shipments booked at the end.
    pub(crate) shipped: BTreeSet<u64>,
    /// Every quote request: the client, the carrier, how it ended.
    pub(crate) quotes: Vec<(&'static str, &'static str, QuoteResult)>,
    /// Each carrier's breaker state at the end of the quotes.
    pub(crate) carriers: Vec<(&'static str, State)>,
}

impl Report {
    /// The orders that ended as `result` says.
    pub(crate) fn count(&self, pred: impl Fn(&OrderResult) -> bool) -> usize {
        self.orders.iter().filter(|(_, r)| pred(r)).count()
    }

    /// The summary table, and what is still in place, line by line.
    pub(crate) fn summary(&self) -> Vec<String> {
        let placed = self.count(|r| *r == OrderResult::Placed);
        let compensated = self.count(|r| matches!(r, OrderResult::Compensated { .. }));
        let shed = self.count(|r| *r == OrderResult::Shed);
        let rule = format!("+{}+{}+", "-".repeat(36), "-".repeat(7));
        let mut lines = vec![rule.clone()];
        for (what, n) in [
            ("orders placed", placed as u64),
            ("orders compensated by the saga", compensated as u64),
            ("orders shed by the bulkhead", shed as u64),
            ("payment calls rejected fast (open)", self.rejected_fast),
            ("retries spent", self.retries),
        ] {
            lines.push(format!("| {what:<34} | {n:>5} |"));
        }
        lines.push(rule);
        lines.push(format!(
            "still in place: {} reservations, {} charges, {} shipments (one each per placed order)",
            self.reserved.len(),
            self.charged.len(),
            self.shipped.len()
        ));
        lines
    }
}
