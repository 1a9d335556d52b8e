//! The bulkhead handle: the standalone door (`run`) and the source of tower layers.

use super::acquire::Acquire;
use super::state::Lanes;
#[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
use super::state::Slot;
use super::{Builder, BulkheadLayer, Metrics, Run};
use crate::ConfigError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A bulkhead: at most `max_concurrent` calls at once, at most `max_queued` waiting.
///
/// A cheap-to-clone handle; see the [module docs](super).
///
/// ```
/// use bulwark::Error;
/// use bulwark::bulkhead::Bulkhead;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let bulkhead = Bulkhead::builder().max_concurrent(1).max_queued(0).build()?;
/// let slow = bulkhead.run(|| async {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     Ok::<_, std::io::Error>("slow")
/// });
/// let mut slow = std::pin::pin!(slow);
/// assert!(futures::poll!(slow.as_mut()).is_pending()); // it holds the one slot
/// let turned_away = bulkhead.run(|| async { Ok::<_, std::io::Error>("fast") }).await;
/// assert!(matches!(turned_away, Err(Error::BulkheadFull(_))));
/// assert_eq!(slow.await.unwrap(), "slow");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    pub(super) lanes: Arc<Lanes>,
}

impl Bulkhead {
    /// A builder; see [`Builder`] for the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The bulkhead's [name](Builder::name).
    pub fn name(&self) -> &crate::Name {
        self.lanes.listeners.name()
    }

    /// Runs the future `f` returns in a slot of this bulkhead.
    ///
    /// `f` is called only once a slot is taken, and the slot is released as soon as its future
    /// completes. The call waits in the queue if it must; it fails with
    /// [`Error::BulkheadFull`](crate::Error::BulkheadFull) if the queue is full or the wait
    /// exceeds `max_wait`, and with [`Error::Inner`](crate::Error::Inner) if the future returns
    /// an error.
    pub fn run<F, Fut, T, E>(&self, f: F) -> Run<F, Fut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Run::new(self.acquire(), f)
    }

    /// A tower layer whose services go through this bulkhead (default mode; see
    /// [`BulkheadLayer::backpressure`] for the other).
    pub fn layer(&self) -> BulkheadLayer {
        BulkheadLayer::new(self.clone())
    }

    /// A bulkhead with this one's settings, name, listeners and adaptive algorithm (at its
    /// initial limit), sharing nothing with it (a keyed bulkhead's instance for a new key).
    #[cfg(feature = "keyed")]
    pub(crate) fn fresh(&self) -> Self {
        Self {
            lanes: Arc::new(Lanes::new(self.lanes.fresh())),
        }
    }

    /// Changes how many calls may run at once; see [Changing the limits](super#changing-the-limits).
    /// With an [adaptive limit](super#adaptive-limits), the algorithm carries on from `n`.
    ///
    /// ```
    /// use bulwark::bulkhead::Bulkhead;
    ///
    /// let bulkhead = Bulkhead::builder().max_concurrent(8).max_queued(16).build()?;
    /// // An operator halves the limit while the dependency recovers.
    /// bulkhead.set_max_concurrent(4)?;
    /// let m = bulkhead.metrics();
    /// assert_eq!((m.max_concurrent, m.max_queued, m.in_flight), (4, 16, 0));
    /// # Ok::<(), bulwark::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `n` is 0 or above `usize::MAX >> 3`; the limit is then
    /// left as it was.
    pub fn set_max_concurrent(&self, n: usize) -> Result<(), ConfigError> {
        self.lanes.set_max_concurrent(n)
    }

    /// Changes how many calls may wait; the calls already waiting keep their place.
    pub fn set_max_queued(&self, n: usize) {
        self.lanes.set_max_queued(n);
    }

    /// A snapshot of the bulkhead's counters and limits. Cheap: a few atomic loads.
    ///
    /// The fields are read one by one while calls come and go, so under load they may not add up
    /// exactly at one instant.
    pub fn metrics(&self) -> Metrics {
        self.lanes.metrics()
    }

    pub(crate) fn acquire(&self) -> Acquire {
        Acquire::new(Arc::clone(self.lanes.home()))
    }

    /// A slot at once, if one is free and nobody waits, held without a reference of its own
    /// by a caller that holds this bulkhead (the pipeline's call); else `None` (then
    /// [`acquire`](Self::acquire) waits or refuses). Freed only by [`give_back`](Self::give_back).
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[inline]
    pub(crate) fn try_take(&self) -> Option<Slot> {
        self.lanes.try_take()
    }

    /// Joins the queue now, the wait counting from `since`, for a caller that found no free
    /// slot with [`try_take`](Self::try_take) and times `max_wait` itself (the pipeline, with
    /// its one timer).
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    pub(crate) fn queue(&self, since: tokio::time::Instant) -> super::Queued {
        Acquire::queue(Arc::clone(self.lanes.home()), since)
    }

    /// Frees a slot of [`try_take`](Self::try_take), reporting the call to an adaptive limit as
    /// `failed` or not; `None`: cancelled, not reported.
    #[cfg(all(feature = "timeout", feature = "retry", feature = "circuit-breaker"))]
    #[inline]
    pub(crate) fn give_back(&self, slot: Slot, failed: Option<bool>) {
        self.lanes.give_back(slot, failed);
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("metrics", &self.metrics())
            .finish()
    }
}
