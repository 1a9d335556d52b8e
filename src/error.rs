//! The one flat error of calls that combine patterns standalone.

use std::fmt;

/// The error of a call through several bulwark patterns at once (a
/// [`Pipeline`](crate::pipeline::Pipeline)): either the call's own error, or the pattern that
/// stopped it. One `match`, no nesting:
///
/// ```
/// # #[cfg(all(feature = "timeout", feature = "circuit-breaker", feature = "bulkhead"))] {
/// use bulwark::Error;
///
/// fn describe(e: &Error<std::io::Error>) -> String {
///     match e {
///         Error::Inner(io) => format!("the call failed: {io}"),
///         Error::Timeout(elapsed) => format!("too slow: {elapsed}"),
///         Error::CircuitOpen(open) => format!("failing fast, retry after {:?}", open.retry_after()),
///         Error::BulkheadFull(full) => format!("shed: {full}"),
///         _ => e.to_string(),
///     }
/// }
/// # let _ = describe;
/// # }
/// ```
///
/// `Display` and `source()` are those of the wrapped error, so printing an `Error` never repeats
/// a message, and the cause chain of `Inner` is kept.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The call ran and returned this error (after any retries).
    Inner(E),
    /// The call, one attempt of it, or the whole call with its retries ran out of time.
    #[cfg(feature = "timeout")]
    Timeout(crate::timeout::Elapsed),
    /// The circuit breaker rejected the call without running it.
    #[cfg(feature = "circuit-breaker")]
    CircuitOpen(crate::circuit_breaker::CircuitOpen),
    /// The bulkhead turned the call away without running it.
    #[cfg(feature = "bulkhead")]
    BulkheadFull(crate::bulkhead::BulkheadFull),
    /// The rate limiter turned the call away without running it.
    #[cfg(feature = "rate-limit")]
    RateLimited(crate::rate_limit::RateLimited),
    /// A keyed policy had no room for the call's new key.
    #[cfg(feature = "keyed")]
    TooManyKeys(crate::keyed::TooManyKeys),
}

impl<E> Error<E> {
    /// The call's own error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner(e) => Some(e),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Whether a pattern stopped the call (rather than the call failing by itself).
    pub fn is_rejection(&self) -> bool {
        !matches!(self, Error::Inner(_))
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Inner(e) => e.fmt(f),
            #[cfg(feature = "timeout")]
            Error::Timeout(e) => e.fmt(f),
            #[cfg(feature = "circuit-breaker")]
            Error::CircuitOpen(e) => e.fmt(f),
            #[cfg(feature = "bulkhead")]
            Error::BulkheadFull(e) => e.fmt(f),
            #[cfg(feature = "rate-limit")]
            Error::RateLimited(e) => e.fmt(f),
            #[cfg(feature = "keyed")]
            Error::TooManyKeys(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Inner(e) => e.source(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

#[cfg(feature = "timeout")]
impl<E> From<crate::timeout::Elapsed> for Error<E> {
    fn from(e: crate::timeout::Elapsed) -> Self {
        Error::Timeout(e)
    }
}

// A standalone breaker's or a pipeline's rejections, for a retry around them.
#[cfg(all(feature = "retry", feature = "circuit-breaker"))]
impl<E: 'static> Error<E> {
    /// Registers this type with the retry's default hint, which can then see its rejections.
    pub(crate) fn register_open() {
        crate::circuit_breaker::open_types::register::<Self>(|any| {
            match any.downcast_ref::<Self>()? {
                Error::CircuitOpen(open) => Some(open),
                _ => None,
            }
        });
    }
}

#[cfg(feature = "circuit-breaker")]
impl<E> From<crate::circuit_breaker::CircuitOpen> for Error<E> {
    fn from(e: crate::circuit_breaker::CircuitOpen) -> Self {
        Error::CircuitOpen(e)
    }
}

#[cfg(feature = "bulkhead")]
impl<E> From<crate::bulkhead::BulkheadFull> for Error<E> {
    fn from(e: crate::bulkhead::BulkheadFull) -> Self {
        Error::BulkheadFull(e)
    }
}

#[cfg(feature = "rate-limit")]
impl<E> From<crate::rate_limit::RateLimited> for Error<E> {
    fn from(e: crate::rate_limit::RateLimited) -> Self {
        Error::RateLimited(e)
    }
}

#[cfg(feature = "keyed")]
impl<E> From<crate::keyed::TooManyKeys> for Error<E> {
    fn from(e: crate::keyed::TooManyKeys) -> Self {
        Error::TooManyKeys(e)
    }
}

impl<E> Error<Error<E>> {
    /// Merges an error of nested standalone patterns into one level: a pattern's rejection is
    /// kept wherever it happened, and the call's own error stays `Inner`.
    ///
    /// ```
    /// use bulwark::Error;
    ///
    /// let nested: Error<Error<std::io::Error>> = Error::Inner(Error::Inner(std::io::Error::other("down")));
    /// assert!(matches!(nested.flatten(), Error::Inner(_)));
    /// ```
    pub fn flatten(self) -> Error<E> {
        match self {
            Error::Inner(inner) => inner,
            #[cfg(feature = "timeout")]
            Error::Timeout(e) => Error::Timeout(e),
            #[cfg(feature = "circuit-breaker")]
            Error::CircuitOpen(e) => Error::CircuitOpen(e),
            #[cfg(feature = "bulkhead")]
            Error::BulkheadFull(e) => Error::BulkheadFull(e),
            #[cfg(feature = "rate-limit")]
            Error::RateLimited(e) => Error::RateLimited(e),
            #[cfg(feature = "keyed")]
            Error::TooManyKeys(e) => Error::TooManyKeys(e),
        }
    }
}
