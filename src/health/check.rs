//! What a check is: the [`HealthCheck`] trait, its outcome [`Health`], and the closure adapter.

pub use super::status::{Detail, Details, Status, Tag};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// The outcome of one run of a check: a status, an optional message and details.
///
/// ```
/// use bulwark::health::{Health, Status};
///
/// let health = Health::degraded("replica lag is high").with_detail("lag_ms", 850u32);
/// assert_eq!(health.status(), Status::Degraded);
/// assert_eq!(health.message(), Some("replica lag is high"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    status: Status,
    message: Option<Cow<'static, str>>,
    details: Details,
}

impl Health {
    /// An outcome with `status`, no message and no details.
    pub fn new(status: Status) -> Self {
        Self {
            status,
            message: None,
            details: Details::new(),
        }
    }

    /// A healthy outcome.
    pub fn healthy() -> Self {
        Self::new(Status::Healthy)
    }

    /// A degraded outcome with a message.
    pub fn degraded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Status::Degraded).with_message(message)
    }

    /// An unhealthy outcome with a message.
    pub fn unhealthy(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Status::Unhealthy).with_message(message)
    }

    /// Sets the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds (or replaces) one detail.
    #[must_use]
    pub fn with_detail(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Detail>,
    ) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The details.
    pub fn details(&self) -> &Details {
        &self.details
    }
}

/// What a check closure may return: converted into a [`Health`].
///
/// `Health` and `Status` as they are; `true` is healthy and `false` unhealthy; `Ok(())` is
/// healthy, `Ok(health)` or `Ok(status)` as it is, and `Err(e)` unhealthy with `e` as the message.
pub trait IntoHealth {
    /// The outcome.
    fn into_health(self) -> Health;
}

impl IntoHealth for Health {
    fn into_health(self) -> Health {
        self
    }
}

impl IntoHealth for Status {
    fn into_health(self) -> Health {
        Health::new(self)
    }
}

impl IntoHealth for bool {
    fn into_health(self) -> Health {
        if self {
            Health::healthy()
        } else {
            Health::new(Status::Unhealthy)
        }
    }
}

impl<E: fmt::Display> IntoHealth for Result<(), E> {
    fn into_health(self) -> Health {
        match self {
            Ok(()) => Health::healthy(),
            Err(e) => Health::unhealthy(e.to_string()),
        }
    }
}

impl<E: fmt::Display> IntoHealth for Result<Health, E> {
    fn into_health(self) -> Health {
        self.unwrap_or_else(|e| Health::unhealthy(e.to_string()))
    }
}

impl<E: fmt::Display> IntoHealth for Result<Status, E> {
    fn into_health(self) -> Health {
        match self {
            Ok(status) => Health::new(status),
            Err(e) => Health::unhealthy(e.to_string()),
        }
    }
}

/// An asynchronous health check.
///
/// The aggregator bounds every run with a timeout and catches panics, so an implementation does
/// neither. Implement it with an `async fn`:
///
/// ```
/// use bulwark::health::{Health, HealthCheck};
///
/// struct Disk;
///
/// impl HealthCheck for Disk {
///     async fn check(&self) -> Health {
///         let free_mb = 2048u64; // ask the system here
///         if free_mb < 100 {
///             Health::unhealthy("disk full").with_detail("free_mb", free_mb)
///         } else {
///             Health::healthy().with_detail("free_mb", free_mb)
///         }
///     }
/// }
/// ```
///
/// For a closure, use [`check_fn`].
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> impl Future<Output = Health> + Send;
}

impl<T: HealthCheck> HealthCheck for std::sync::Arc<T> {
    fn check(&self) -> impl Future<Output = Health> + Send {
        T::check(self)
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`HealthCheck`] that the aggregator stores.
pub(crate) trait DynCheck: Send + Sync + 'static {
    fn check_boxed(&self) -> BoxFuture<'_, Health>;
}

impl<T: HealthCheck> DynCheck for T {
    fn check_boxed(&self) -> BoxFuture<'_, Health> {
        Box::pin(self.check())
    }
}

/// A [`HealthCheck`] from a closure returning a future; see [`check_fn`].
#[derive(Clone)]
pub struct FnCheck<F> {
    f: F,
}

/// Makes a [`HealthCheck`] from a closure that returns a future of anything [`IntoHealth`].
///
/// ```
/// use bulwark::health::{check_fn, Status};
///
/// let always_up = check_fn(|| async { Status::Healthy });
/// let pings = check_fn(|| async { Ok::<(), std::io::Error>(()) });
/// # let _ = (always_up, pings);
/// ```
pub fn check_fn<F, Fut>(f: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoHealth,
{
    FnCheck { f }
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoHealth,
{
    fn check(&self) -> impl Future<Output = Health> + Send {
        let fut = (self.f)();
        async move { fut.await.into_health() }
    }
}

impl<F> fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnCheck")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}
