//! What a timeout reports to its listeners.

use crate::Name;
use crate::event::PatternEvent;
use std::time::Duration;

/// Something that happened in a timeout.
///
/// Every variant carries the timeout's [`name`](super::Timeout::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A call, or a wait for readiness, ran out of time.
    TimedOut {
        /// The timeout's name.
        name: Name,
        /// The timeout that ran out.
        after: Duration,
        /// Whether it was the wait for the inner service's readiness that ran out.
        waiting_for_readiness: bool,
    },
}

impl Event {
    /// The name of the timeout the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::TimedOut { name, .. } => name,
        }
    }
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        match self {
            Event::TimedOut {
                name,
                after,
                waiting_for_readiness,
            } => tracing::warn!(
                target: "bulwark::timeout",
                name = name.as_str(),
                after_s = after.as_secs_f64(),
                waiting_for_readiness,
                "timed out"
            ),
        }
    }

    // A timeout has no build step and its one metric is recorded only when time runs out, so
    // the counter is looked up then (no per-call cost, nothing registered for a timeout that
    // never fires).
    #[cfg(feature = "metrics")]
    type Instruments = ();

    #[cfg(feature = "metrics")]
    fn instruments(_: &Name) {}

    #[cfg(feature = "metrics")]
    fn record(&self, _: Option<&()>) {
        let Event::TimedOut {
            name,
            waiting_for_readiness,
            ..
        } = self;
        let phase = if *waiting_for_readiness {
            "readiness"
        } else {
            "call"
        };
        crate::instrument::counter(
            "bulwark.timeout.timeouts",
            "Calls (or waits for readiness) that ran out of time",
            name,
            &[("phase", phase)],
        )
        .increment(1);
    }
}
