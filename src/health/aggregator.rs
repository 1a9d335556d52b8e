//! The [`HealthAggregator`] handle and the one place where checks run and results are recorded.

use super::builder::{Check, HealthAggregatorBuilder};
use super::check::{Health, Status, Tag};
use super::report::{CheckReport, HealthReport};
use super::slot::{Recorded, Running, Slot, run_guarded};
use super::{Event, HealthMetrics};
use crate::event::Listeners;
use futures::FutureExt;
use futures::future::{Either, Ready, join_all, ready};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

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

#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    OnDemand {
        cache_for: Duration,
    },
    Background {
        interval: Duration,
        max_age: Duration,
    },
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

pub(super) struct Inner {
    slots: Box<[Slot]>,
    mode: Mode,
    overall: watch::Sender<Status>,
    listeners: Listeners<Event>,
    runs: AtomicU64,
    cache_hits: AtomicU64,
    joins: AtomicU64,
    /// A result was recorded since the overall status was last computed.
    dirty: AtomicBool,
    /// Check events waiting to be delivered, outside any run and any lock (a listener that
    /// panics inside a shared run would poison it for every later caller).
    pending: Mutex<Vec<Event>>,
}

struct BackgroundTask(AbortHandle);

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type SlotFuture = Either<Ready<Arc<Recorded>>, Running>;

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
        let (overall, _) = watch::channel(Status::Unhealthy);
        let inner = Arc::new(Inner {
            slots,
            mode,
            overall,
            listeners,
            runs: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            joins: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
        });
        if inner.slots.is_empty() {
            inner.overall.send_replace(Status::Healthy);
        }
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

/// The worst status of critical checks; an optional check counts at worst as `Degraded`.
fn overall(statuses: impl Iterator<Item = (bool, Status)>) -> Status {
    statuses
        .map(|(critical, s)| if critical { s } else { s.min(Status::Degraded) })
        .fold(Status::Healthy, Status::worst)
}

impl Inner {
    /// How long a report reuses a result: `None` means any result (background mode, where
    /// `check_report` marks stale ones).
    fn reuse_for(&self) -> Option<Duration> {
        match self.mode {
            Mode::OnDemand { cache_for } => Some(cache_for),
            Mode::Background { .. } => None,
        }
    }

    /// The result of check `i`: the last one if younger than `reuse_for` (any age if `None`),
    /// else the run in progress, else a new run that later callers share.
    fn acquire(
        self: &Arc<Self>,
        i: usize,
        reuse_for: Option<Duration>,
        now: Instant,
    ) -> SlotFuture {
        let slot = &self.slots[i];
        let mut state = slot.lock();
        if let Some(last) = &state.last {
            if reuse_for.is_none_or(|ttl| now.saturating_duration_since(last.finished) < ttl) {
                self.cache_hits.fetch_add(1, Relaxed);
                return Either::Left(ready(last.clone()));
            }
        }
        if let Some(running) = &state.running {
            self.joins.fetch_add(1, Relaxed);
            return Either::Right(running.clone());
        }
        let weak = Arc::downgrade(self);
        let (check, timeout) = (slot.spec.check.clone(), slot.timeout);
        let run = async move {
            let started = Instant::now();
            let health = run_guarded(check, timeout).await;
            let duration = started.elapsed();
            match weak.upgrade() {
                Some(inner) => inner.record(i, health, duration),
                // The aggregator is gone; nobody will read this result.
                None => Arc::new(Recorded {
                    status: health.status(),
                    health,
                    duration,
                    finished: Instant::now(),
                }),
            }
        }
        .boxed()
        .shared();
        state.running = Some(run.clone());
        Either::Right(run)
    }

    /// Stores a completed run of check `i` and updates the overall status.
    fn record(&self, i: usize, health: Health, duration: Duration) -> Arc<Recorded> {
        let slot = &self.slots[i];
        let spec = &slot.spec;
        let (recorded, before) = {
            let mut state = slot.lock();
            let before = state.hysteresis.reported();
            let status = state.hysteresis.observe(
                health.status(),
                spec.failure_threshold,
                spec.success_threshold,
            );
            let recorded = Arc::new(Recorded {
                status,
                health,
                duration,
                finished: Instant::now(),
            });
            state.last = Some(recorded.clone());
            state.running = None;
            (recorded, before)
        };
        self.runs.fetch_add(1, Relaxed);
        if before != Some(recorded.status) && self.listeners.is_active() {
            self.pending_events().push(Event::CheckChanged {
                name: spec.name.clone(),
                from: before,
                to: recorded.status,
            });
        }
        self.dirty.store(true, Relaxed);
        recorded
    }

    fn pending_events(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Recomputes the overall status if a result was recorded since the last time, and delivers
    /// the events. Called once per report and per background round, not per result (which would
    /// cost O(checks²)), and never inside a run.
    fn update_overall_if_dirty(&self) {
        if !self.dirty.swap(false, Relaxed) {
            return;
        }
        let now = Instant::now();
        let status = overall(self.slots.iter().map(|slot| {
            let last = slot.lock().last.clone();
            let status = match last {
                Some(rec) => self.reported_status(&rec, now).0,
                None => Status::Unhealthy,
            };
            (slot.spec.critical, status)
        }));
        let mut previous = status;
        self.overall.send_if_modified(|current| {
            previous = std::mem::replace(current, status);
            previous != status
        });
        let events = std::mem::take(&mut *self.pending_events());
        for event in events {
            self.listeners.emit(|| event);
        }
        if previous != status {
            self.listeners.emit(|| Event::StatusChanged {
                from: previous,
                to: status,
            });
        }
    }

    /// The status to report for a recorded result, and whether it is stale.
    fn reported_status(&self, rec: &Recorded, now: Instant) -> (Status, bool) {
        match self.mode {
            Mode::Background { max_age, .. } if now.duration_since(rec.finished) > max_age => {
                (Status::Unhealthy, true)
            }
            _ => (rec.status, false),
        }
    }

    fn check_report(&self, i: usize, rec: Arc<Recorded>, now: Instant) -> CheckReport {
        let spec = &self.slots[i].spec;
        let (status, stale) = self.reported_status(&rec, now);
        CheckReport {
            name: spec.name.clone(),
            tags: spec.tags.clone(),
            critical: spec.critical,
            status,
            stale,
            age: now.duration_since(rec.finished),
            recorded: rec,
        }
    }
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
