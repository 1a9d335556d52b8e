//! The [`HealthAggregator`] handle, the report, and the background task.

use super::builder::HealthAggregatorBuilder;
use super::check::{Status, Tag};
use super::inner::{Inner, overall};
use super::register::Check;
use super::report::{CheckReport, HealthReport};
use super::slot::Slot;
use super::{Event, HealthMetrics};
use crate::event::Listeners;
use futures::future::join_all;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub(super) use super::inner::Mode;

/// Which checks a report covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selection {
    /// Every registered check.
    All,
    /// The checks carrying this tag.
    Tagged(Tag),
}

impl Selection {
    fn covers(&self, check: &Check) -> bool {
        match self {
            Selection::All => true,
            Selection::Tagged(tag) => check.tags.contains(tag),
        }
    }
}

impl From<Tag> for Selection {
    fn from(tag: Tag) -> Self {
        Selection::Tagged(tag)
    }
}

/// Runs health checks concurrently, caches their results and reports the overall status.
///
/// Cheap to clone: clones share the checks, the results and the background task. See the
/// [module docs](super) for the behaviour and examples.
#[derive(Clone)]
pub struct HealthAggregator {
    pub(super) inner: Arc<Inner>,
    /// Aborts the background task when the last clone is dropped.
    _background: Option<Arc<BackgroundTask>>,
}

struct BackgroundTask(AbortHandle);

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HealthAggregator {
    /// A builder with no checks; see [`HealthAggregatorBuilder`] for the defaults.
    pub fn builder() -> HealthAggregatorBuilder {
        HealthAggregatorBuilder::new()
    }

    pub(super) fn start(
        checks: Vec<Check>,
        default_timeout: Duration,
        mode: Mode,
        listeners: Listeners<Event>,
    ) -> Self {
        let slots = checks
            .into_iter()
            .map(|c| Slot::new(c, default_timeout))
            .collect();
        let inner = Arc::new(Inner::new(slots, mode, listeners));
        let background = match mode {
            Mode::Background { interval, .. } => {
                let task = tokio::spawn(background(inner.clone(), interval));
                Some(Arc::new(BackgroundTask(task.abort_handle())))
            }
            Mode::OnDemand { .. } => None,
        };
        Self {
            inner,
            _background: background,
        }
    }

    /// A report of every check.
    pub async fn report(&self) -> HealthReport {
        report(self.inner.clone(), Selection::All, false).await
    }

    /// A report of the checks carrying `tag` (an empty report, `Healthy`, if none does).
    pub async fn report_for(&self, tag: Tag) -> HealthReport {
        report(self.inner.clone(), Selection::Tagged(tag), false).await
    }

    /// A report of the selected checks, as a `'static` future.
    pub fn report_selected(
        &self,
        selection: Selection,
    ) -> impl Future<Output = HealthReport> + Send + 'static {
        report(self.inner.clone(), selection, false)
    }

    /// Runs every check now, ignoring cached results (a run already in progress is joined), and
    /// reports them.
    pub async fn refresh(&self) -> HealthReport {
        report(self.inner.clone(), Selection::All, true).await
    }

    /// A receiver of the overall status of every check (optional ones count at worst as
    /// `Degraded`), updated each time a result is recorded. A check with no result yet counts as
    /// failing, so the value starts `Unhealthy` unless no check is registered.
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.inner.overall.subscribe()
    }

    /// Counters since the aggregator was built, and the overall status.
    pub fn metrics(&self) -> HealthMetrics {
        HealthMetrics {
            runs: self.inner.runs.load(Relaxed),
            cache_hits: self.inner.cache_hits.load(Relaxed),
            joins: self.inner.joins.load(Relaxed),
            status: *self.inner.overall.borrow(),
        }
    }
}

async fn background(inner: Arc<Inner>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // A result younger than half an interval (a `refresh`, or the report that started the
        // first run) is not run again.
        let runs: Vec<_> = (0..inner.slots.len())
            .map(|i| inner.acquire(i, Some(interval / 2), Instant::now()))
            .collect();
        join_all(runs).await;
        // A panicking listener must not end the task: results would go stale.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| inner.update_overall_if_dirty()));
    }
}

async fn report(inner: Arc<Inner>, selection: Selection, force: bool) -> HealthReport {
    let picked: Vec<usize> = (0..inner.slots.len())
        .filter(|&i| selection.covers(&inner.slots[i].spec))
        .collect();
    let reuse_for = if force {
        Some(Duration::ZERO)
    } else {
        inner.reuse_for()
    };
    let asked = Instant::now();
    let results = join_all(picked.iter().map(|&i| inner.acquire(i, reuse_for, asked))).await;
    inner.update_overall_if_dirty();
    let now = Instant::now();
    let checks: Vec<CheckReport> = picked
        .iter()
        .zip(results)
        .map(|(&i, rec)| inner.check_report(i, rec, now))
        .collect();
    let status = overall(checks.iter().map(|c| (c.critical(), c.status())));
    HealthReport::new(status, checks, SystemTime::now())
}

impl fmt::Debug for HealthAggregator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthAggregator")
            .field("checks", &self.inner.slots)
            .field("mode", &self.inner.mode)
            .field("status", &*self.inner.overall.borrow())
            .field("background_task", &self._background.is_some())
            .finish()
    }
}
