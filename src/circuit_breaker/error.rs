//! The tower rejection of the circuit breaker.

use super::State;
use crate::Name;
use std::fmt;
use std::time::Duration;

/// The circuit breaker rejected a call without running it.
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<CircuitOpen>()` or `err.downcast_ref::<CircuitOpen>()`); the standalone
/// [`CircuitBreaker::run`](super::CircuitBreaker::run) returns it inside [`Error::CircuitOpen`](crate::Error::CircuitOpen).
///
/// [`retry_after`](Self::retry_after) says when the circuit may admit calls again, which is what
/// an HTTP `Retry-After` header or a retry policy wants to know.
///
/// It carries the breaker's [`name`](Self::name), which its message prints:
/// `circuit breaker "payments" is open, retry after 2.5s` (`circuit breaker is open, ...` for a
/// breaker that kept its default name).
///
/// ```
/// use std::time::Duration;
/// use bulwark::Error;
/// use bulwark::circuit_breaker::{CircuitBreaker, State};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let breaker = CircuitBreaker::builder()
///     .name("payments")
///     .open_duration(Duration::from_secs(30))
///     .build()?;
/// breaker.force_open();
/// let result = breaker.run(|| async { Ok::<_, std::io::Error>(()) }).await;
/// let Err(Error::CircuitOpen(open)) = result else { panic!("expected a refusal") };
/// assert_eq!(open.name(), "payments");
/// assert_eq!(open.state(), State::ForcedOpen);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitOpen {
    /// Nanoseconds, `u64::MAX` for [`Duration::MAX`] (open periods are at most a year): kept in
    /// one word, so a response future holding a rejection stays small.
    retry_after: u64,
    state: State,
    name: Name,
}

impl CircuitOpen {
    pub(crate) const fn new(state: State, retry_after: Duration, name: Name) -> Self {
        let nanos = retry_after.as_nanos();
        Self {
            retry_after: if nanos >= u64::MAX as u128 {
                u64::MAX
            } else {
                nanos as u64
            },
            state,
            name,
        }
    }

    /// The name of the breaker that rejected the call.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The time, measured when the call was rejected, until the circuit may admit calls again.
    ///
    /// - [`State::Open`]: the rest of the open duration; after it the circuit half-opens and
    ///   admits probe calls.
    /// - [`State::HalfOpen`]: zero. Every probe slot was taken; a slot frees up as soon as a
    ///   probe completes, which cannot be predicted.
    /// - [`State::ForcedOpen`]: [`Duration::MAX`]. The circuit stays open until it is reset by
    ///   hand.
    pub const fn retry_after(&self) -> Duration {
        if self.retry_after == u64::MAX {
            Duration::MAX
        } else {
            Duration::from_nanos(self.retry_after)
        }
    }

    /// The state of the circuit when it rejected the call: [`State::Open`], [`State::HalfOpen`]
    /// (all probe slots taken) or [`State::ForcedOpen`].
    pub const fn state(&self) -> State {
        self.state
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = crate::name::Quoted(&self.name, "circuit_breaker");
        match self.state {
            State::HalfOpen => write!(
                f,
                "circuit breaker{name} is half-open, all probe slots taken"
            ),
            State::ForcedOpen => write!(f, "circuit breaker{name} is forced open"),
            _ => write!(
                f,
                "circuit breaker{name} is open, retry after {:?}",
                self.retry_after()
            ),
        }
    }
}

impl std::error::Error for CircuitOpen {}
