//! The [`HealthAggregator`] handle, the report, and the background task.

use super::builder::HealthAggregatorBuilder;
use super::check::{Status, Tag};
use super::inner::{Inner, overall};
use super::register::Check;
use super::report::{CheckReport, HealthReport};
use super::slot::Slot;
use super::{Event, Metrics};
use crate::event::Listeners;
use futures::future::{Either, join_all};
use std::fmt;
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
///
/// ```
/// use bulwark::health::{Check, HealthAggregator, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let health = HealthAggregator::builder()
///     .check(Check::from_fn("database", || async { Ok::<(), std::io::Error>(()) }))
///     .check(Check::from_fn("cache", || async { Err::<(), _>(std::io::Error::other("down")) }).optional())
///     .build()?;
/// let report = health.report().await;
/// // An optional check failing degrades the report; a critical one would fail it.
/// assert_eq!(report.status(), Status::Degraded);
/// # Ok(())
/// # }
/// ```
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
    /// `Degraded`), as a report of every check would give it. A check with no result yet counts
    /// as failing, so the value starts `Unhealthy` unless no check is registered.
    ///
    /// It changes when a result is recorded and, in background mode, when a result goes stale:
    /// the background task wakes at the moment the oldest result reaches `max_age` (even in the
    /// middle of a round) and publishes the `Unhealthy` status; a report or a [`metrics`](Self::metrics)
    /// call that finds a result stale publishes it too. So a receiver never holds `Healthy` while a
    /// report would say stale, except while the runtime is too starved to run the background
    /// task or anything else that reads the status.
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.inner.publish_overall();
        self.inner.overall.subscribe()
    }

    /// Counters since the aggregator was built, and the overall status of every check now (in
    /// background mode, a stale result counts as `Unhealthy`, as in a report), which is also
    /// what [`watch`](Self::watch) holds once this returns.
    pub fn metrics(&self) -> Metrics {
        let (status, _) = self.inner.publish_overall();
        Metrics {
            runs: self.inner.runs.load(Relaxed),
            cache_hits: self.inner.cache_hits.load(Relaxed),
            joins: self.inner.joins.load(Relaxed),
            status,
        }
    }
}

async fn background(inner: Arc<Inner>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Wherever the task waits, a result going stale wakes it to publish the status.
        inner.publishing_staleness(ticker.tick()).await;
        // A result younger than half an interval (a `refresh`, or the report that started the
        // first run) is not run again.
        let runs: Vec<_> = (0..inner.slots.len())
            .map(|i| inner.acquire(i, Some(interval / 2), Instant::now()))
            .collect();
        inner.publishing_staleness(join_all(runs)).await;
        // Listeners' panics are caught where they are called: they cannot end the task.
        inner.publish_overall();
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
    // A result reused from the cache is taken as it is; only runs are awaited (together), so a
    // report served from the cache never polls a future per check.
    let mut cached = Vec::with_capacity(picked.len());
    let mut runs = Vec::new();
    for &i in &picked {
        match inner.acquire(i, reuse_for, asked) {
            Either::Left(done) => cached.push(Some(done.into_inner())),
            Either::Right(run) => {
                cached.push(None);
                runs.push(run);
            }
        }
    }
    let mut ran = if runs.is_empty() {
        Vec::new().into_iter()
    } else {
        join_all(runs).await.into_iter()
    };
    // The watch is brought up to date at the instant the report describes, so the two agree.
    let (_, now) = inner.publish_overall();
    let mut checks: Vec<CheckReport> = Vec::with_capacity(picked.len());
    for (&i, rec) in picked.iter().zip(cached) {
        // Every run awaited gave its result, in order.
        if let Some(rec) = rec.or_else(|| ran.next()) {
            checks.push(inner.check_report(i, rec, now));
        }
    }
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
