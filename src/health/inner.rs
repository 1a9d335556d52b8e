//! The aggregator's core: one place where a check's result is reused, joined or run, and where
//! results are recorded and the overall status recomputed.

use super::Event;
use super::check::{Health, Status};
use super::report::CheckReport;
use super::slot::{Recorded, Running, Slot, run_guarded};
use crate::event::Listeners;
use futures::FutureExt;
use futures::future::{Either, Ready, ready};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    OnDemand {
        cache_for: Duration,
    },
    Background {
        interval: Duration,
        max_age: Duration,
    },
}

pub(super) struct Inner {
    pub(super) slots: Box<[Slot]>,
    pub(super) mode: Mode,
    pub(super) overall: watch::Sender<Status>,
    listeners: Listeners<Event>,
    pub(super) runs: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) joins: AtomicU64,
    /// A result was recorded since the overall status was last computed.
    dirty: AtomicBool,
    /// Check events waiting to be delivered, outside any run and any lock (a listener that
    /// panics inside a shared run would poison it for every later caller).
    pending: Mutex<Vec<Event>>,
    /// Each check's metric handles, by slot (feature `metrics`).
    #[cfg(feature = "metrics")]
    check_metrics: Box<[super::events::CheckInstruments]>,
}

impl Inner {
    pub(super) fn new(slots: Box<[Slot]>, mode: Mode, listeners: Listeners<Event>) -> Self {
        // A check with no result counts as failing; with no check at all, nothing fails.
        let initial = if slots.is_empty() {
            Status::Healthy
        } else {
            Status::Unhealthy
        };
        #[cfg(feature = "metrics")]
        let check_metrics = slots
            .iter()
            .map(|slot| super::events::CheckInstruments::new(listeners.name(), &slot.spec.name))
            .collect();
        #[cfg(feature = "metrics")]
        if let Some(i) = listeners.instruments() {
            i.status.set(initial as usize);
        }
        Self {
            slots,
            mode,
            overall: watch::channel(initial).0,
            listeners,
            runs: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            joins: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            #[cfg(feature = "metrics")]
            check_metrics,
            pending: Mutex::new(Vec::new()),
        }
    }
}

pub(super) type SlotFuture = Either<Ready<Arc<Recorded>>, Running>;

/// The worst status of critical checks; an optional check counts at worst as `Degraded`.
pub(super) fn overall(statuses: impl Iterator<Item = (bool, Status)>) -> Status {
    statuses
        .map(|(critical, s)| if critical { s } else { s.min(Status::Degraded) })
        .fold(Status::Healthy, Status::worst)
}

impl Inner {
    /// How long a report reuses a result: `None` means any result (background mode, where
    /// `check_report` marks stale ones).
    pub(super) fn reuse_for(&self) -> Option<Duration> {
        match self.mode {
            Mode::OnDemand { cache_for } => Some(cache_for),
            Mode::Background { .. } => None,
        }
    }

    /// The result of check `i`: the last one if younger than `reuse_for` (any age if `None`),
    /// else the run in progress, else a new run that later callers share.
    pub(super) fn acquire(
        self: &Arc<Self>,
        i: usize,
        reuse_for: Option<Duration>,
        now: Instant,
    ) -> SlotFuture {
        let slot = &self.slots[i];
        let mut state = slot.lock();
        if let Some(last) = &state.last
            && reuse_for.is_none_or(|ttl| now.saturating_duration_since(last.finished) < ttl)
        {
            self.cache_hits.fetch_add(1, Relaxed);
            return Either::Left(ready(last.clone()));
        }
        if let Some(running) = &state.running {
            self.joins.fetch_add(1, Relaxed);
            return Either::Right(running.clone());
        }
        let weak = Arc::downgrade(self);
        let (check, timeout) = (slot.spec.check.clone(), slot.timeout);
        // The timeout counts from the run's creation, whether or not anyone polls it then.
        let started = Instant::now();
        let run = async move {
            let health = run_guarded(check, timeout, started).await;
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
        #[cfg(feature = "metrics")]
        if let Some(m) = self.check_metrics.get(i) {
            m.record(recorded.status, duration);
        }
        self.runs.fetch_add(1, Relaxed);
        if before != Some(recorded.status) && self.listeners.is_active() {
            self.pending_events().push(Event::CheckChanged {
                name: *self.listeners.name(),
                check: spec.name.clone(),
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

    /// The overall status of every check at `now` (staleness included), published on the watch
    /// if it changed; then the pending events are delivered.
    ///
    /// Every reader of a status goes through here: a report (after its runs are joined), the
    /// metrics, a new watch, and the background task (after each round, and at each moment a
    /// result goes stale). So the watch, the metrics and a report of every check agree at any
    /// instant one of them is read. On demand nothing goes stale, and this recomputes only if a
    /// result was recorded since the last time (once per report, not per result, which would
    /// cost O(checks²)). Never called inside a run.
    ///
    /// The status is computed and sent under the watch's lock, with the clock read there, so
    /// two concurrent publishers cannot send their results out of order. Returns the status and
    /// the instant it describes.
    pub(super) fn publish_overall(&self) -> (Status, Instant) {
        let recorded = self.dirty.swap(false, Relaxed);
        if !recorded && matches!(self.mode, Mode::OnDemand { .. }) {
            return (*self.overall.borrow(), Instant::now());
        }
        let (mut previous, mut status, mut now) =
            (Status::Healthy, Status::Healthy, Instant::now());
        self.overall.send_if_modified(|current| {
            now = Instant::now();
            status = self.overall_at(now);
            previous = std::mem::replace(current, status);
            previous != status
        });
        let events = std::mem::take(&mut *self.pending_events());
        for event in events {
            self.listeners.emit(|_| event);
        }
        if previous != status {
            self.listeners.emit(|name| Event::StatusChanged {
                name,
                from: previous,
                to: status,
            });
        }
        (status, now)
    }

    /// The overall status of every check at `now`; a check with no result yet counts as failing.
    fn overall_at(&self, now: Instant) -> Status {
        overall(self.slots.iter().map(|slot| {
            let last = slot.lock().last.clone();
            let status = match last {
                Some(rec) => self.reported_status(&rec, now).0,
                None => Status::Unhealthy,
            };
            (slot.spec.critical, status)
        }))
    }

    /// In background mode, the next moment a result that is fresh now goes stale.
    fn next_stale(&self, now: Instant) -> Option<Instant> {
        let Mode::Background { max_age, .. } = self.mode else {
            return None;
        };
        self.slots
            .iter()
            .filter_map(|slot| slot.lock().last.as_ref()?.finished.checked_add(max_age))
            .filter(|&at| at > now)
            .min()
    }

    /// Waits for `future`; meanwhile, at each moment a result goes stale, publishes the overall
    /// status (so the watch learns it even with no report asked for). For the background task.
    pub(super) async fn publishing_staleness<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let arm = |at: Instant| Box::pin(tokio::time::sleep_until(at));
        let mut timer = self.next_stale(Instant::now()).map(arm);
        std::future::poll_fn(|cx| {
            // The timer first: a task that wakes late (starved) publishes the staleness it
            // slept through before it goes on.
            while let Some(sleep) = &mut timer {
                if sleep.as_mut().poll(cx).is_pending() {
                    break;
                }
                let (_, now) = self.publish_overall();
                timer = self.next_stale(now).map(arm);
            }
            future.as_mut().poll(cx)
        })
        .await
    }

    /// The status to report for a recorded result, and whether it is stale.
    fn reported_status(&self, rec: &Recorded, now: Instant) -> (Status, bool) {
        match self.mode {
            Mode::Background { max_age, .. } if now.duration_since(rec.finished) >= max_age => {
                (Status::Unhealthy, true)
            }
            _ => (rec.status, false),
        }
    }

    pub(super) fn check_report(&self, i: usize, rec: Arc<Recorded>, now: Instant) -> CheckReport {
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
