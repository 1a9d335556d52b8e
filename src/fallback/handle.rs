//! The fallback handle: the standalone door (`run`, `apply`) and the source of tower layers.

use super::state::Shared;
use super::{Builder, FallbackLayer, Metrics, Reason, Run};
use crate::classify::{Classify, Verdict};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A value (or a closure's value) in place of chosen failures: an open circuit, a timeout, a
/// full bulkhead, a rate limit, or an outcome a classifier calls a failure.
///
/// A cheap-to-clone handle; see the [module docs](super).
///
/// ```
/// use std::time::Duration;
/// use bulwark::fallback::{Fallback, Reason};
/// use bulwark::timeout::Timeout;
/// use bulwark::Error;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let fallback = Fallback::builder(|_: Reason| "cached price: 10".to_owned()).build()?;
///
/// let price = fallback
///     .run(|| async {
///         let slow = std::future::pending::<Result<String, std::io::Error>>();
///         Timeout::new(Duration::from_millis(50)).run(slow).await?.map_err(Error::Inner)
///     })
///     .await?;
/// assert_eq!(price, "cached price: 10");
/// assert_eq!(fallback.metrics().used_for(Reason::Timeout), 1);
/// # Ok(())
/// # }
/// ```
pub struct Fallback<F, C = RejectionsOnly> {
    pub(crate) shared: Arc<Shared<F, C>>,
}

impl<F> Fallback<F> {
    /// A builder whose fallback is `value(reason)`, called each time an outcome is replaced.
    /// See [`Builder`] for which outcomes are.
    pub fn builder<T>(value: F) -> Builder<F>
    where
        F: Fn(Reason) -> T,
    {
        Builder::new(value)
    }
}

impl<F, C> Fallback<F, C> {
    /// Runs the future `f` returns (a standalone run of other patterns, whose error is the flat
    /// [`Error`](crate::Error)) and replaces its outcome if it is one of the chosen.
    ///
    /// `f` is called at once; its future runs when the returned future is polled.
    pub fn run<Fn_, Fut, T, E>(&self, f: Fn_) -> Run<Fut, F, C>
    where
        Fn_: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, crate::Error<E>>>,
        F: Fn(Reason) -> T,
        C: Classify<T, E>,
    {
        Run::new(f(), Arc::clone(&self.shared))
    }

    /// Replaces `outcome` if it is one of the chosen: what [`run`](Self::run) does with its
    /// future's output.
    pub fn apply<T, E>(&self, outcome: Result<T, crate::Error<E>>) -> Result<T, crate::Error<E>>
    where
        F: Fn(Reason) -> T,
        C: Classify<T, E>,
    {
        self.shared.apply(outcome)
    }

    /// A tower layer whose services replace the chosen outcomes of their inner service.
    pub fn layer(&self) -> FallbackLayer<F, C> {
        FallbackLayer::new(self.clone())
    }

    /// A snapshot of the fallback's counters. Cheap: a few atomic loads.
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics()
    }
}

impl<F, C> Clone for Fallback<F, C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<F, C> fmt::Debug for Fallback<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("name", self.shared.listeners.name())
            .field("on", &self.shared.chosen_reasons().collect::<Vec<_>>())
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// The default classifier of a [`Fallback`]: none of the call's own outcomes is replaced,
/// only the chosen rejections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectionsOnly;

impl<T, E> Classify<T, E> for RejectionsOnly {
    #[inline]
    fn classify(&self, _: &Result<T, E>) -> Verdict {
        Verdict::Success
    }
}
