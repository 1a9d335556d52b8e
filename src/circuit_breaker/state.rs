//! The states of a circuit breaker.

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
    /// Opened by hand with [`CircuitBreaker::force_open`](super::CircuitBreaker::force_open): calls are rejected until
    /// [`reset`](super::CircuitBreaker::reset).
    ForcedOpen,
    /// Turned off by hand with [`CircuitBreaker::disable`](super::CircuitBreaker::disable): every call runs and nothing is
    /// recorded.
    Disabled,
    /// Set by hand with [`CircuitBreaker::metrics_only`](super::CircuitBreaker::metrics_only): every call runs and is recorded, the
    /// circuit never opens.
    MetricsOnly,
}
