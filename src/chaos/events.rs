//! What a fault injector reports to its listeners.

use super::Fault;
use crate::event::PatternEvent;

/// Something the injector did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A fault was injected into a call.
    Injected(Fault),
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        let Event::Injected(fault) = self;
        tracing::info!(target: "bulwark::chaos", fault = ?fault, "fault injected");
    }
}
