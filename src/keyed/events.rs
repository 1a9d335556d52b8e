//! What a keyed policy reports: its [`Metrics`] snapshot and its [`Event`]s.

use super::Eviction;
use crate::Name;
use crate::event::PatternEvent;

/// A snapshot of a [`Keyed`](super::Keyed) policy, from [`Keyed::metrics`](super::Keyed::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Keys held now.
    pub keys: usize,
    /// The most keys held at once.
    pub max_keys: usize,
    /// How many shards the keys are spread over (eviction order is exact within a shard).
    pub shards: usize,
    /// Instances created (first uses of a key, and returns of an evicted one).
    pub created: u64,
    /// Keys evicted to make room for a new one.
    pub evicted_capacity: u64,
    /// Keys evicted after an idle timeout.
    pub evicted_idle: u64,
    /// Calls turned away because no key could make room ([`TooManyKeys`](super::TooManyKeys)).
    pub refused: u64,
}

/// Something that happened in a keyed policy.
///
/// Every variant carries the keyed policy's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]) and the key, written with its `Debug` form (a `String` key reads
/// `"tenant-a"`, quotes included). Keys are only written out when an event is emitted, never on
/// a call that finds its key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A key left the map; if it comes back it gets a fresh instance.
    Evicted {
        /// The keyed policy's name.
        name: Name,
        /// The key, in its `Debug` form.
        key: String,
        /// Why.
        reason: Eviction,
    },
    /// A new key was turned away: every key in its shard was in use by an instance that may
    /// not be evicted yet.
    Refused {
        /// The keyed policy's name.
        name: Name,
        /// The key, in its `Debug` form.
        key: String,
    },
}

impl Event {
    /// The name of the keyed policy the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Evicted { name, .. } | Event::Refused { name, .. } => name,
        }
    }
}

/// The metric handles of one keyed policy (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    evicted_capacity: metrics::Counter,
    evicted_idle: metrics::Counter,
    refused: metrics::Counter,
    pub(super) keys: metrics::Gauge,
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        const T: &str = "bulwark::keyed";
        match self {
            Event::Evicted { name, key, reason } => tracing::debug!(
                target: T,
                name = name.as_str(),
                key = key.as_str(),
                reason = reason.as_str(),
                "evicted"
            ),
            Event::Refused { name, key } => tracing::warn!(
                target: T,
                name = name.as_str(),
                key = key.as_str(),
                "refused: no key could make room"
            ),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        use crate::instrument::{counter, gauge};
        let evictions = "bulwark.keyed.evictions";
        let evictions_help = "Keys evicted, by reason";
        Instruments {
            evicted_capacity: counter(evictions, evictions_help, name, &[("reason", "capacity")]),
            evicted_idle: counter(evictions, evictions_help, name, &[("reason", "idle")]),
            refused: counter(
                "bulwark.keyed.refusals",
                "Calls with a new key turned away: no key could make room",
                name,
                &[],
            ),
            keys: gauge("bulwark.keyed.keys", "Keys held now", name, &[]),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let Some(i) = instruments else { return };
        match self {
            Event::Evicted { reason, .. } => match reason {
                Eviction::Capacity => i.evicted_capacity.increment(1),
                Eviction::Idle => i.evicted_idle.increment(1),
            },
            Event::Refused { .. } => i.refused.increment(1),
        }
    }
}
