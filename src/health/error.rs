//! The error of an invalid health configuration.

use std::borrow::Cow;
use std::fmt;

/// [`HealthAggregatorBuilder::build`](super::HealthAggregatorBuilder::build) rejected the
/// configuration: names the field and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: Cow<'static, str>,
    reason: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<Cow<'static, str>>, reason: &'static str) -> Self {
        Self {
            field: field.into(),
            reason,
        }
    }

    /// The field that is invalid, such as `background.interval` or `checks["db"].timeout`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why it is invalid.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid health configuration: `{}` {}",
            self.field, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}
