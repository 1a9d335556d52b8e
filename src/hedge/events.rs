//! What a hedge reports: its [`Metrics`] snapshot and its [`Event`]s.

use crate::Name;
use crate::event::PatternEvent;
use std::time::Duration;

/// A snapshot of a [`Hedge`](super::Hedge), from [`Hedge::metrics`](super::Hedge::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Calls started since the hedge was built.
    pub calls: u64,
    /// Extra attempts sent (hedges).
    pub hedges: u64,
    /// Calls answered by an extra attempt rather than the first.
    pub hedge_wins: u64,
    /// Hedges that were due but that the budget refused.
    pub budget_exhausted: u64,
    /// The delay before a hedge: the fixed one, or the percentile of the last full window
    /// (`None` while too few latencies were recorded: no call is hedged then).
    pub delay: Option<Duration>,
    /// How many extra attempts one call may send.
    pub max_hedged_attempts: u32,
}

/// Something that happened in a hedge.
///
/// Every variant carries the hedge's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An extra attempt was sent, `after` the previous attempt of the call started, with no
    /// answer yet.
    Hedged {
        /// The hedge's name.
        name: Name,
        /// The attempt sent: 2 for the first hedge, 3 for the second, ...
        attempt: u32,
        /// How long after the previous attempt it was sent.
        after: Duration,
    },
    /// An extra attempt answered first; the others were dropped.
    HedgeWon {
        /// The hedge's name.
        name: Name,
        /// The attempt that answered (2 or more).
        attempt: u32,
    },
    /// A hedge was due but the budget refused it; the call waits for the attempts it sent.
    BudgetExhausted {
        /// The hedge's name.
        name: Name,
        /// The attempt that was not sent.
        attempt: u32,
    },
}

impl Event {
    /// The name of the hedge the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Hedged { name, .. }
            | Event::HedgeWon { name, .. }
            | Event::BudgetExhausted { name, .. } => name,
        }
    }
}

/// The metric handles of one hedge (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    hedges: metrics::Counter,
    wins: metrics::Counter,
    budget_exhausted: metrics::Counter,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::hedge";
        match self {
            Event::Hedged {
                name,
                attempt,
                after,
            } => tracing::debug!(
                target: T,
                name = name.as_str(),
                attempt = *attempt,
                after_s = after.as_secs_f64(),
                "hedged"
            ),
            Event::HedgeWon { name, attempt } => tracing::debug!(
                target: T,
                name = name.as_str(),
                attempt = *attempt,
                "hedge won"
            ),
            Event::BudgetExhausted { name, attempt } => tracing::debug!(
                target: T,
                name = name.as_str(),
                attempt = *attempt,
                "budget exhausted"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::counter;
        Instruments {
            hedges: counter(
                "bulwark.hedge.hedges",
                "Extra attempts sent because the previous one had not answered in time",
                name,
                &[],
            ),
            wins: counter(
                "bulwark.hedge.wins",
                "Calls answered by an extra attempt rather than the first",
                name,
                &[],
            ),
            budget_exhausted: counter(
                "bulwark.hedge.budget_exhausted",
                "Hedges that were due but refused by the budget",
                name,
                &[],
            ),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Hedged { .. } => i.hedges.increment(1),
            Event::HedgeWon { .. } => i.wins.increment(1),
            Event::BudgetExhausted { .. } => i.budget_exhausted.increment(1),
        }
    }
}
