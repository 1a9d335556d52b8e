//! Counts of a saga definition's runs.

use super::store::OutcomeKind;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a saga definition's runs, from [`Saga::metrics`](super::Saga::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Runs whose start was recorded.
    pub started: u64,
    /// Runs started and not finished yet (going forward or compensating).
    pub in_flight: u64,
    /// Runs that completed.
    pub completed: u64,
    /// Runs that were compensated.
    pub compensated: u64,
    /// Runs that were parked.
    pub parked: u64,
    /// Runs that stopped short of an outcome ([`SagaError::Unsettled`](super::SagaError::Unsettled)):
    /// their sagas wait for recovery.
    pub unsettled: u64,
    /// Renewals of runs' claims (leases) that the store granted.
    pub renewals: u64,
    /// Runs that found their claim taken by another run (they stopped, unsettled).
    pub claims_lost: u64,
}

/// The live counters behind [`Metrics`]: one atomic add per run start and per run end.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    compensated: AtomicU64,
    parked: AtomicU64,
    unsettled: AtomicU64,
    renewals: AtomicU64,
    claims_lost: AtomicU64,
}

impl Counters {
    pub(crate) fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self, kind: OutcomeKind) {
        let counter = match kind {
            OutcomeKind::Completed => &self.completed,
            OutcomeKind::Compensated => &self.compensated,
            OutcomeKind::Parked => &self.parked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unsettled(&self) {
        self.unsettled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn renewed(&self) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn claim_lost(&self) {
        self.claims_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        // Ends are read before starts, so `in_flight` never underflows.
        let completed = self.completed.load(Ordering::Relaxed);
        let compensated = self.compensated.load(Ordering::Relaxed);
        let parked = self.parked.load(Ordering::Relaxed);
        let unsettled = self.unsettled.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        let ended = completed + compensated + parked + unsettled;
        Metrics {
            started,
            in_flight: started.saturating_sub(ended),
            completed,
            compensated,
            parked,
            unsettled,
            renewals: self.renewals.load(Ordering::Relaxed),
            claims_lost: self.claims_lost.load(Ordering::Relaxed),
        }
    }
}
