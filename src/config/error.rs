//! The error of a policies file: where (file, line, key) and why.

use std::fmt;
use std::path::{Path, PathBuf};

/// A policies file (or text) could not be read, parsed or validated.
///
/// [`key`](Self::key) is the dotted path of the setting at fault
/// (`circuit_breaker.payments.failure_rate_threshold`), [`path`](Self::path) the file it came
/// from and [`line`](Self::line) its line where the format tells it. `Display` puts them in the
/// order a reader of a log line wants:
///
/// ```text
/// policies.toml:4: circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got 1.5
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    path: Option<PathBuf>,
    line: Option<usize>,
    key: String,
    reason: String,
}

impl LoadError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: None,
            line: None,
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn at_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// The file, when the policies were read from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The line (from 1), when the format reports it.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The dotted key of the setting at fault (`bulkhead.inventory.max_concurrent`); empty when
    /// the error is about the whole file (it cannot be read, its format is unknown).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Why, in a few lower-case words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{}:{line}: ", path.display())?,
            (Some(path), None) => write!(f, "{}: ", path.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for LoadError {}
