//! The errors of the circuit breaker.

use super::State;
use std::fmt;
use std::time::Duration;

/// The circuit breaker rejected a call without running it.
///
/// The tower layer returns it boxed in a [`BoxError`](crate::BoxError) (check it with
/// `err.is::<CircuitOpen>()` or `err.downcast_ref::<CircuitOpen>()`); the standalone
/// [`CircuitBreaker::run`](super::CircuitBreaker::run) returns it inside [`Error::Open`].
///
/// [`retry_after`](Self::retry_after) says when the circuit may admit calls again, which is what
/// an HTTP `Retry-After` header or a retry policy wants to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitOpen {
    retry_after: Duration,
    state: State,
}

impl CircuitOpen {
    pub(crate) const fn new(state: State, retry_after: Duration) -> Self {
        Self { retry_after, state }
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
        self.retry_after
    }

    /// The state of the circuit when it rejected the call: [`State::Open`], [`State::HalfOpen`]
    /// (all probe slots taken) or [`State::ForcedOpen`].
    pub const fn state(&self) -> State {
        self.state
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            State::HalfOpen => f.write_str("circuit half-open, all probe slots taken"),
            State::ForcedOpen => f.write_str("circuit forced open"),
            _ => write!(f, "circuit open, retry after {:?}", self.retry_after),
        }
    }
}

impl std::error::Error for CircuitOpen {}

/// The error of [`CircuitBreaker::run`](super::CircuitBreaker::run): the call was rejected, or it
/// ran and failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The circuit rejected the call; the closure was not invoked.
    Open(CircuitOpen),
    /// The call ran and returned this error.
    Inner(E),
}

impl<E> Error<E> {
    /// The inner error, if the call ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner(e) => Some(e),
            Error::Open(_) => None,
        }
    }

    /// The rejection, if the call was rejected.
    pub fn as_open(&self) -> Option<&CircuitOpen> {
        match self {
            Error::Open(open) => Some(open),
            Error::Inner(_) => None,
        }
    }
}

#[cfg(feature = "retry")]
impl<E: 'static> Error<E> {
    /// Registers this type with the retry's default hint, which can then see its rejections.
    pub(crate) fn register_open() {
        super::open_types::register::<Self>(|any| any.downcast_ref::<Self>()?.as_open());
    }
}

impl<E> From<CircuitOpen> for Error<E> {
    fn from(open: CircuitOpen) -> Self {
        Error::Open(open)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open(open) => open.fmt(f),
            Error::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open(_) => None,
            // Display already prints the inner message; `source` gives the inner error's own
            // chain so that it is not printed twice.
            Error::Inner(e) => e.source(),
        }
    }
}

/// A setting of [`Builder`](super::Builder) was invalid; `build()` names the field and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The builder method whose value was rejected.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid circuit breaker setting `{}`: {}",
            self.field, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}
