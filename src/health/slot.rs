//! One registered check's state: its last result, its run in progress, its hysteresis.

use super::check::{DynCheck, Health, Status};
use super::register::Check;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A run in progress, shared by every caller that asks for the check while it runs.
pub(super) type Running = Shared<BoxFuture<'static, Arc<Recorded>>>;

/// One completed run, after hysteresis.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The status after hysteresis.
    pub(super) status: Status,
    /// What the run itself said (message and details included).
    pub(super) health: Health,
    pub(super) duration: Duration,
    pub(super) finished: Instant,
}

/// Consecutive-result counting for one check.
#[derive(Debug, Default)]
pub(super) struct Hysteresis {
    reported: Option<Status>,
    failures: u32,
    successes: u32,
}

impl Hysteresis {
    /// Feeds one observed status; returns the status to report. The first result is taken as
    /// is; afterwards an up check needs `fail_n` consecutive failures to go down, and a down
    /// check `ok_m` consecutive successes to come back.
    pub(super) fn observe(&mut self, observed: Status, fail_n: u32, ok_m: u32) -> Status {
        let failing = observed == Status::Unhealthy;
        if failing {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        } else {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        }
        let next = match self.reported {
            None => observed,
            Some(Status::Unhealthy) if !failing && self.successes < ok_m => Status::Unhealthy,
            Some(up) if up.is_up() && failing && self.failures < fail_n => up,
            Some(_) => observed,
        };
        self.reported = Some(next);
        next
    }

    pub(super) fn reported(&self) -> Option<Status> {
        self.reported
    }
}

#[derive(Debug, Default)]
pub(super) struct SlotState {
    pub(super) last: Option<Arc<Recorded>>,
    pub(super) running: Option<Running>,
    pub(super) hysteresis: Hysteresis,
}

/// A registered check and its state.
pub(super) struct Slot {
    pub(super) spec: Check,
    pub(super) timeout: Duration,
    state: Mutex<SlotState>,
}

impl Slot {
    pub(super) fn new(spec: Check, default_timeout: Duration) -> Self {
        let timeout = spec.timeout.unwrap_or(default_timeout);
        Self {
            spec,
            timeout,
            state: Mutex::new(SlotState::default()),
        }
    }

    /// The state; never held across an `.await` or while calling user code.
    pub(super) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("spec", &self.spec)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Runs a check once, bounded by `timeout` counted from `started` (when the run was created);
/// a panic or a timeout is an `Unhealthy` outcome.
///
/// The deadline wins whenever it has passed. A shared run is driven only while someone waits for
/// it, so a run left alone past its deadline may find, when it is next polled, that its check has
/// finished meanwhile; `tokio::time::timeout` would hand that late result back (it polls the inner
/// future first). So the result is judged against the deadline when it arrives: a check that
/// finishes after its deadline timed out, whoever polls it and whenever.
pub(super) async fn run_guarded(
    check: Arc<dyn DynCheck>,
    timeout: Duration,
    started: Instant,
) -> Health {
    let timed_out = || Health::unhealthy(format!("check timed out after {timeout:?}"));
    let run = AssertUnwindSafe(async move { check.check_boxed().await }).catch_unwind();
    // A deadline too far to represent is no deadline.
    let Some(deadline) = started.checked_add(timeout) else {
        return outcome(run.await);
    };
    match tokio::time::timeout_at(deadline, run).await {
        Ok(_) if Instant::now() > deadline => timed_out(),
        Ok(result) => outcome(result),
        Err(_) => timed_out(),
    }
}

/// The health a check's run returned, or `Unhealthy` if it panicked.
fn outcome(result: Result<Health, Box<dyn std::any::Any + Send>>) -> Health {
    match result {
        Ok(health) => health,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned());
            match what {
                Some(what) => Health::unhealthy(format!("check panicked: {what}")),
                None => Health::unhealthy("check panicked"),
            }
        }
    }
}
