//! The error of an invalid retry or budget setting.
//!
//! The retry pattern adds no failure of its own to a call: when it gives up, the caller gets the
//! last outcome (the last error, or the last retryable response), and an [`Event::GaveUp`]
//! (see [`Event`](super::Event)) says why.

use std::fmt;

/// A [`RetryBuilder`](super::RetryBuilder) or [`RetryBudgetBuilder`](super::RetryBudgetBuilder)
/// setting was invalid: [`field`](Self::field) says which, and [`reason`](Self::reason) why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidRetry {
    field: &'static str,
    reason: &'static str,
}

impl InvalidRetry {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }

    /// The builder setting at fault (`"max_attempts"`, `"stop_retrying_after"`,
    /// `"wait_for_open_circuit"`, `"ratio"`, `"window"`).
    pub const fn field(&self) -> &'static str {
        self.field
    }

    /// Why it was rejected.
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid retry setting: `{}` {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidRetry {}
