//! One registration: a [`Check`] with its name, tags, criticality, timeout and hysteresis.

use super::check::{DynCheck, HealthCheck, IntoHealth, Tag, check_fn};
use crate::ConfigError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A check as registered on the aggregator: name, tags, criticality, timeout and hysteresis.
///
/// ```
/// use std::time::Duration;
/// use bulwark::health::{Check, Tag};
///
/// let check = Check::from_fn("cache", || async { Ok::<(), std::io::Error>(()) })
///     .readiness()
///     .tag(Tag::custom("storage"))
///     .optional()
///     .timeout(Duration::from_millis(200))
///     .failure_threshold(3);
/// # let _ = check;
/// ```
pub struct Check {
    pub(super) name: Arc<str>,
    pub(super) tags: Arc<[Tag]>,
    pub(super) critical: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) failure_threshold: u32,
    pub(super) success_threshold: u32,
    pub(super) check: Arc<dyn DynCheck>,
}

impl Check {
    /// A critical check named `name`, with no tags, the aggregator's default timeout and no
    /// hysteresis.
    pub fn new(name: impl Into<Arc<str>>, check: impl HealthCheck) -> Self {
        Self {
            name: name.into(),
            tags: Arc::from([]),
            critical: true,
            timeout: None,
            failure_threshold: 1,
            success_threshold: 1,
            check: Arc::new(check),
        }
    }

    /// [`Check::new`] with [`check_fn`]`(f)`.
    pub fn from_fn<F, Fut>(name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send,
        Fut::Output: IntoHealth,
    {
        Self::new(name, check_fn(f))
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(mut self, tag: Tag) -> Self {
        if !self.tags.contains(&tag) {
            let mut tags = self.tags.to_vec();
            tags.push(tag);
            self.tags = tags.into();
        }
        self
    }

    /// Adds [`Tag::Liveness`].
    #[must_use]
    pub fn liveness(self) -> Self {
        self.tag(Tag::Liveness)
    }

    /// Adds [`Tag::Readiness`].
    #[must_use]
    pub fn readiness(self) -> Self {
        self.tag(Tag::Readiness)
    }

    /// Adds [`Tag::Startup`].
    #[must_use]
    pub fn startup(self) -> Self {
        self.tag(Tag::Startup)
    }

    /// Makes the check optional: when it fails, the overall status is at worst
    /// [`Status::Degraded`](super::Status::Degraded), never `Unhealthy`. Checks are critical by default.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.critical = false;
        self
    }

    /// Bounds each run of the check; a run that takes longer is `Unhealthy` with a message that
    /// says so.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Requires `n` consecutive failing runs before a check that was up is reported
    /// `Unhealthy` (default 1). Until then it keeps its last status.
    #[must_use]
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n;
        self
    }

    /// Requires `m` consecutive passing runs before a check that was `Unhealthy` is reported up
    /// again (default 1).
    #[must_use]
    pub fn success_threshold(mut self, m: u32) -> Self {
        self.success_threshold = m;
        self
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let field = |f: &str| format!("checks[{:?}].{f}", &*self.name);
        if self.name.is_empty() {
            return Err(ConfigError::new(
                "health",
                "checks[].name",
                "must not be empty",
            ));
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "health",
                field("timeout"),
                "must be greater than zero",
            ));
        }
        if self.failure_threshold == 0 {
            return Err(ConfigError::new(
                "health",
                field("failure_threshold"),
                "must be at least 1",
            ));
        }
        if self.success_threshold == 0 {
            return Err(ConfigError::new(
                "health",
                field("success_threshold"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("tags", &self.tags)
            .field("critical", &self.critical)
            .field("timeout", &self.timeout)
            .field("failure_threshold", &self.failure_threshold)
            .field("success_threshold", &self.success_threshold)
            .finish_non_exhaustive()
    }
}
