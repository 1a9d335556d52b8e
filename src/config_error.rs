//! The one error of an invalid setting, returned by every builder of the crate.

use std::borrow::Cow;

/// A setting was rejected by a builder's `build()` (or by a run-time change of a setting):
/// [`pattern`](Self::pattern) says whose, [`field`](Self::field) which setting, and
/// [`reason`](Self::reason) why.
///
/// Every builder in the crate returns this one type, so configuring several patterns needs no
/// conversion and no `Box<dyn Error>`.
///
/// ```
/// use bulwark::circuit_breaker::CircuitBreaker;
///
/// let err = CircuitBreaker::builder().failure_rate_threshold(50.0).build().unwrap_err();
/// assert_eq!((err.pattern(), err.field()), ("circuit_breaker", "failure_rate_threshold"));
/// assert_eq!(
///     err.to_string(),
///     "invalid circuit_breaker setting `failure_rate_threshold`: must be in (0, 1], got 50"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {pattern} setting `{field}`: {reason}")]
pub struct ConfigError {
    pattern: &'static str,
    field: Cow<'static, str>,
    reason: Cow<'static, str>,
}

impl ConfigError {
    /// A rejected `field` of `pattern`, and why.
    #[allow(dead_code)] // until every builder returns it
    pub(crate) fn new(
        pattern: &'static str,
        field: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            pattern,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The pattern (or part of the crate) whose setting was rejected: `"timeout"`, `"retry"`,
    /// `"retry_budget"`, `"backoff"`, `"circuit_breaker"`, `"bulkhead"`, `"pipeline"`, `"saga"`,
    /// `"saga_store"`, `"health"`, `"chaos"`.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The setting at fault, named as its builder method (`"max_attempts"`, `"failure_rate"` ...).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why it was rejected, in a few lower-case words (`"must be at least 1"`).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::ConfigError;

    #[test]
    fn display_names_the_pattern_the_field_and_the_reason() {
        let e = ConfigError::new("bulkhead", "max_concurrent", "must be at least 1");
        assert_eq!(
            e.to_string(),
            "invalid bulkhead setting `max_concurrent`: must be at least 1"
        );
        assert_eq!(
            (e.pattern(), e.field(), e.reason()),
            ("bulkhead", "max_concurrent", "must be at least 1")
        );
    }
}
