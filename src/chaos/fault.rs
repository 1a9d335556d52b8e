//! The faults an injector can choose.

use std::time::Duration;

/// The fault chosen for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The call failed at once with an injected error.
    Error,
    /// The call never completes.
    Hang,
    /// The call was delayed by this much.
    Latency(Duration),
}

/// Which rate to change with [`Chaos::set_rate`](super::Chaos::set_rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Injected errors.
    Error,
    /// Hangs.
    Hang,
    /// Added latency.
    Latency,
}
