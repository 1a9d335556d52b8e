//! The state every clone of a [`Hedge`](super::Hedge) shares: the delay, the budget, the
//! counters and the listeners.

use super::histogram::Histogram;
use super::{Event, Metrics};
use crate::event::Listeners;
use crate::retry::RetryBudget;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait for an attempt before sending the next one.
pub(super) enum Delay {
    /// Always the same.
    Fixed(Duration),
    /// A percentile of the latencies of the last full window.
    Percentile(Box<Histogram>),
}

pub(crate) struct Shared {
    pub(super) delay: Delay,
    /// Attempts a call may make in all: 1 + `max_hedged_attempts`.
    pub(super) max_attempts: u32,
    pub(super) budget: Option<RetryBudget>,
    pub(super) listeners: Listeners<Event>,
    calls: AtomicU64,
    hedges: AtomicU64,
    hedge_wins: AtomicU64,
    budget_exhausted: AtomicU64,
}

impl Shared {
    pub(super) fn new(
        delay: Delay,
        max_attempts: u32,
        budget: Option<RetryBudget>,
        listeners: Listeners<Event>,
    ) -> Self {
        Self {
            delay,
            max_attempts,
            budget,
            listeners,
            calls: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            hedge_wins: AtomicU64::new(0),
            budget_exhausted: AtomicU64::new(0),
        }
    }

    /// A call starts: it counts towards the budget.
    #[inline]
    pub(super) fn begin(&self, now: Instant) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(budget) = &self.budget {
            budget.deposit(now);
        }
    }

    /// The delay before the next hedge, if one is known.
    #[inline]
    pub(super) fn delay(&self, now: Instant) -> Option<Duration> {
        match &self.delay {
            Delay::Fixed(d) => Some(*d),
            Delay::Percentile(h) => h.delay(now),
        }
    }

    /// Whether the percentile delay records latencies (a clock reading when an attempt ends).
    #[inline]
    pub(super) fn records(&self) -> bool {
        matches!(self.delay, Delay::Percentile(_))
    }

    /// Records the latency of an attempt that answered.
    #[inline]
    pub(super) fn record(&self, started: Instant) {
        if let Delay::Percentile(h) = &self.delay {
            let now = Instant::now();
            h.record(now, now.saturating_duration_since(started));
        }
    }

    /// Takes one hedge from the budget, if it allows it; emits `BudgetExhausted` if not.
    pub(super) fn try_hedge(&self, now: Instant, attempt: u32) -> bool {
        if let Some(budget) = &self.budget
            && !budget.try_withdraw(now)
        {
            self.budget_exhausted.fetch_add(1, Ordering::Relaxed);
            self.listeners
                .emit(|name| Event::BudgetExhausted { name, attempt });
            return false;
        }
        true
    }

    /// An extra attempt was sent.
    pub(super) fn hedged(&self, attempt: u32, after: Duration) {
        self.hedges.fetch_add(1, Ordering::Relaxed);
        self.listeners.emit(|name| Event::Hedged {
            name,
            attempt,
            after,
        });
    }

    /// An extra attempt answered first.
    pub(super) fn won(&self, attempt: u32) {
        self.hedge_wins.fetch_add(1, Ordering::Relaxed);
        self.listeners
            .emit(|name| Event::HedgeWon { name, attempt });
    }

    pub(super) fn metrics(&self) -> Metrics {
        Metrics {
            calls: self.calls.load(Ordering::Relaxed),
            hedges: self.hedges.load(Ordering::Relaxed),
            hedge_wins: self.hedge_wins.load(Ordering::Relaxed),
            budget_exhausted: self.budget_exhausted.load(Ordering::Relaxed),
            delay: match &self.delay {
                Delay::Fixed(d) => Some(*d),
                Delay::Percentile(h) => h.current(),
            },
            max_hedged_attempts: self.max_attempts - 1,
        }
    }
}
