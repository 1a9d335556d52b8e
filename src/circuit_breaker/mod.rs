//! Stops calling a downstream that keeps failing, and lets it recover.

mod error;

pub use error::{CircuitOpen, ConfigError, Error};

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls run and their outcomes are recorded; the trip rules can open the circuit.
    Closed,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// A limited number of probe calls run; their outcomes close or re-open the circuit.
    HalfOpen,
    /// Opened by hand with `force_open`: calls are rejected until `reset`.
    ForcedOpen,
    /// Turned off by hand with `disable`: every call runs and nothing is recorded.
    Disabled,
    /// Set by hand with `metrics_only`: every call runs and is recorded, the circuit never opens.
    MetricsOnly,
}
