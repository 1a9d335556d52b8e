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

impl State {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"closed"`, `"open"`,
    /// `"half_open"`, `"forced_open"`, `"disabled"`, `"metrics_only"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// Every state, in declaration order.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// The index of this state in [`State::ALL`].
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}
