//! The retry budget: retries may be at most a share of recent requests, plus a floor.

use crate::ConfigError;
#[cfg(bulwark_loom)]
use loom::sync::Mutex;
#[cfg(bulwark_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
use std::fmt;
use std::sync::Arc;
#[cfg(not(bulwark_loom))]
use std::sync::Mutex;
#[cfg(not(bulwark_loom))]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The window is split into this many buckets; the oldest expires as time moves on.
const BUCKETS: usize = 10;
/// What one retry costs, in budget units. A request deposits `ratio × 1 000 000` units, so any
/// ratio with up to six decimals (`0.125`, `0.001`, `0.333333`) is exact.
const UNIT: u128 = 1_000_000;

/// A budget for retries, shared by every clone of it and every layer and service made from a
/// [`Retry`](super::Retry) that holds it: retries may be at most
/// [`ratio`](RetryBudgetBuilder::ratio) of the requests seen in the last
/// [`window`](RetryBudgetBuilder::window), plus [`min_per_second`](RetryBudgetBuilder::min_per_second)
/// retries per second of the window, so a trickle of traffic can still retry.
///
/// Every call made through a retry with this budget counts as a request when it starts; every
/// attempt after the first withdraws one retry. When the budget is spent the call gives up with
/// its last outcome (see [`GiveUpReason::Budget`](super::GiveUpReason::Budget)).
///
/// The arithmetic is integer (a request deposits `ratio × 1 000 000` units, a retry costs
/// 1 000 000), so fractional ratios are exact: a ratio of 0.3 over 100 requests allows 30 retries,
/// not 33. The window is kept in 10 time buckets; the oldest bucket expires every `window / 10`.
/// A request or retry counts in the bucket of the instant it was recorded at (the clock is read
/// for each): each thread keeps the instants that bound the bucket it last computed, so a reading
/// that falls in the same bucket finds it with two comparisons instead of a subtraction of
/// instants and a division, and lands in the bucket the computation would have given.
///
/// ```
/// use std::time::Duration;
/// use bulwark::retry::RetryBudget;
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let budget = RetryBudget::builder()
///     .ratio(0.125)
///     .min_per_second(0)
///     .window(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(budget.metrics().available, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    state: Arc<State>,
}

struct State {
    /// Tells budgets apart in a thread's cached bucket bounds (see [`Bounds`]).
    id: u64,
    start: Instant,
    /// At least 1 ms (the window is at least 10 ms); u64 so the per-call division is cheap.
    bucket_nanos: u64,
    /// Units each request deposits (at most `UNIT`). A std atomic even under loom: only
    /// `reconfigure` writes it, and no model does; so is `reserve`.
    deposit: std::sync::atomic::AtomicU64,
    /// Units the floor adds to the window (`min_per_second × window`), saturated.
    reserve: std::sync::atomic::AtomicU64,
    /// The settings as given, for `settings()` (ratio exact, as typed).
    settings: std::sync::Mutex<RetryBudgetBuilder>,
    /// The bucket epoch (time since `start` in buckets) the buckets currently describe.
    current: AtomicU64,
    /// Held only to clear expired buckets, at most once per bucket of time.
    rotate: Mutex<()>,
    buckets: [Bucket; BUCKETS],
}

/// Deposits are striped: each thread adds to one of these counters, each on its own cache lines,
/// so that calls on different threads do not write one shared line. The total is the exact sum.
const STRIPES: usize = 8;

/// One stripe of a bucket's requests, alone on its cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

#[derive(Default)]
struct Bucket {
    requests: [Stripe; STRIPES],
    retries: AtomicU64,
}

impl Bucket {
    fn requests(&self) -> u64 {
        self.requests.iter().fold(0u64, |sum, s| {
            sum.saturating_add(s.0.load(Ordering::Acquire))
        })
    }
}

/// The bounds of one bucket of one budget, as instants: every `now` with `from <= now < until`
/// is in bucket epoch `epoch`. A pure function of the budget's start and bucket length, so a
/// thread may keep the last one it computed and skip the division (and the subtraction of
/// instants, the dearer part) for every later reading that falls in the same bucket: the epoch it
/// gives is the one [`State::epoch_at`] would compute, whatever the thread or the clock.
#[derive(Clone, Copy)]
struct Bounds {
    budget: u64,
    epoch: u64,
    from: Instant,
    until: Instant,
}

std::thread_local! {
    static BOUNDS: std::cell::Cell<Option<Bounds>> = const { std::cell::Cell::new(None) };
}

/// A snapshot of a [`RetryBudget`] over its current window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetMetrics {
    /// Requests recorded in the window.
    pub requests: u64,
    /// Retries allowed in the window.
    pub retries: u64,
    /// Retries the budget would allow now.
    pub available: u64,
}

impl RetryBudget {
    /// A builder with Finagle's defaults: a ratio of 0.2 (20 % of requests), 10 per second, a 10
    /// second window.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            ratio: 0.2,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }

    /// What the budget holds now.
    pub fn metrics(&self) -> BudgetMetrics {
        self.state.metrics(Instant::now())
    }

    /// Records a request: one call through the retry.
    pub(crate) fn deposit(&self, now: Instant) {
        self.state.deposit(now);
    }

    /// Takes one retry if the budget allows it.
    pub(crate) fn try_withdraw(&self, now: Instant) -> bool {
        self.state.try_withdraw(now)
    }
}

impl State {
    /// The bucket epoch of `now`: the time since `start` in whole buckets. Read from this
    /// thread's cached [`Bounds`] when `now` falls in the bucket it describes.
    #[inline]
    fn epoch_at(&self, now: Instant) -> u64 {
        if let Some(b) = BOUNDS.with(std::cell::Cell::get)
            && b.budget == self.id
            && b.from <= now
            && now < b.until
        {
            return b.epoch;
        }
        self.compute_epoch(now)
    }

    /// [`epoch_at`](Self::epoch_at) computed, and its bucket's bounds cached for this thread.
    #[inline(never)]
    fn compute_epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.start).as_nanos();
        // 584 years of nanoseconds fit in a u64; past that, the epoch stops moving.
        let since = u64::try_from(since).unwrap_or(u64::MAX);
        let epoch = since / self.bucket_nanos;
        // The bucket's first instant (`epoch × bucket_nanos <= since`, so it fits in a u64) and
        // the next bucket's. Past the 584 years, every later instant has this epoch too, so the
        // bounds stay true; an instant before `start` (epoch 0) is never cached, only computed.
        let from = self
            .start
            .checked_add(Duration::from_nanos(epoch * self.bucket_nanos));
        let until = from.and_then(|f| f.checked_add(Duration::from_nanos(self.bucket_nanos)));
        if let (Some(from), Some(until)) = (from, until) {
            BOUNDS.with(|c| {
                c.set(Some(Bounds {
                    budget: self.id,
                    epoch,
                    from,
                    until,
                }));
            });
        }
        epoch
    }

    /// Brings the buckets up to `now`, clearing those that expired, and returns the current epoch.
    #[inline]
    fn advance(&self, now: Instant) -> u64 {
        let epoch = self.epoch_at(now);
        let current = self.current.load(Ordering::Acquire);
        if epoch <= current {
            return current;
        }
        self.rotate_to(epoch)
    }

    /// Clears the buckets that expired between the current epoch and `epoch`, under the lock.
    #[inline(never)]
    fn rotate_to(&self, epoch: u64) -> u64 {
        let _guard = self.rotate.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current.load(Ordering::Acquire);
        if epoch > current {
            // Requests first: a reader in between sees fewer deposits, never fewer withdrawals.
            let stale = (epoch - current).min(BUCKETS as u64);
            for e in epoch - stale + 1..=epoch {
                for stripe in &self.bucket(e).requests {
                    stripe.0.store(0, Ordering::Release);
                }
            }
            for e in epoch - stale + 1..=epoch {
                self.bucket(e).retries.store(0, Ordering::Release);
            }
            self.current.store(epoch, Ordering::Release);
        }
        epoch.max(current)
    }

    fn bucket(&self, epoch: u64) -> &Bucket {
        &self.buckets[(epoch % BUCKETS as u64) as usize]
    }

    fn sums(&self) -> (u64, u64) {
        self.buckets.iter().fold((0u64, 0u64), |(q, r), b| {
            (
                q.saturating_add(b.requests()),
                r.saturating_add(b.retries.load(Ordering::Acquire)),
            )
        })
    }

    /// Retry units the window holds: deposits plus the floor.
    fn funds(&self, requests: u64) -> u128 {
        let deposit = self.deposit.load(std::sync::atomic::Ordering::Relaxed);
        let reserve = self.reserve.load(std::sync::atomic::Ordering::Relaxed);
        u128::from(requests) * u128::from(deposit) + u128::from(reserve)
    }

    fn deposit(&self, now: Instant) {
        let epoch = self.advance(now);
        // This thread's stripe (`STRIPES` is a power of two).
        self.bucket(epoch).requests[crate::stripe::ordinal() & (STRIPES - 1)]
            .0
            .fetch_add(1, Ordering::AcqRel);
    }

    fn try_withdraw(&self, now: Instant) -> bool {
        let epoch = self.advance(now);
        let bucket = self.bucket(epoch);
        // Take first, then check: concurrent withdrawals see each other and can only be refused
        // together, never both allowed past the budget.
        bucket.retries.fetch_add(1, Ordering::AcqRel);
        let (requests, retries) = self.sums();
        if u128::from(retries) * UNIT <= self.funds(requests) {
            return true;
        }
        bucket.retries.fetch_sub(1, Ordering::AcqRel);
        false
    }

    fn metrics(&self, now: Instant) -> BudgetMetrics {
        self.advance(now);
        let (requests, retries) = self.sums();
        let allowed = u64::try_from(self.funds(requests) / UNIT).unwrap_or(u64::MAX);
        BudgetMetrics {
            requests,
            retries,
            available: allowed.saturating_sub(retries),
        }
    }
}

/// Builds a [`RetryBudget`]; made by [`RetryBudget::builder`].
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBudgetBuilder {
    pub(super) ratio: f64,
    pub(super) min_per_second: u32,
    pub(super) window: Duration,
}

/// A new budget's id, never reused while the process runs (a u64 counter does not wrap).
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl RetryBudgetBuilder {
    /// Retries allowed as a share of the requests in the window, from 0 to 1 (0.2 unless set):
    /// `0.2` allows one retry per five requests, `1.0` one per request. Exact to six decimals.
    ///
    /// [`build`](Self::build) rejects a ratio below 0, above 1 (more retries than requests is no
    /// budget at all: leave the retries to `max_attempts` with
    /// [`RetryBuilder::no_budget`](super::RetryBuilder::no_budget)), or not a number. A percentage
    /// passed by mistake (`20.0`) is therefore an error, not a budget of 2000 %.
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Retries allowed per second of the window whatever the traffic (10 unless set), so a service
    /// with few requests can still retry.
    pub fn min_per_second(mut self, min_per_second: u32) -> Self {
        self.min_per_second = min_per_second;
        self
    }

    /// How far back requests and retries count (10 seconds unless set); at least 10 ms.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Checks the settings and returns the budget, or an error naming the field at fault.
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        let (deposit, reserve) = self.units()?;
        Ok(RetryBudget {
            state: Arc::new(State {
                id: next_id(),
                start: Instant::now(),
                bucket_nanos: u64::try_from(self.window.as_nanos() / BUCKETS as u128)
                    .unwrap_or(u64::MAX),
                deposit: std::sync::atomic::AtomicU64::new(deposit),
                reserve: std::sync::atomic::AtomicU64::new(reserve),
                settings: std::sync::Mutex::new(self),
                current: AtomicU64::new(0),
                rotate: Mutex::new(()),
                buckets: Default::default(),
            }),
        })
    }

    /// Validates the settings; returns what a request deposits and what the floor adds, in units.
    fn units(&self) -> Result<(u64, u64), ConfigError> {
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(ConfigError::new(
                "retry_budget",
                "ratio",
                "must be a number from 0 to 1, the share of requests that may be retried (0.2 \
                 allows one retry per five requests)",
            ));
        }
        if self.window < Duration::from_millis(10) {
            return Err(ConfigError::new(
                "retry_budget",
                "window",
                "must be at least 10 milliseconds",
            ));
        }
        // ratio × UNIT units per request; at most 10^6, so the cast is exact.
        let deposit = (self.ratio * UNIT as f64).round() as u64;
        // min_per_second × window (in seconds) retries, in units: × UNIT / 10^9 nanoseconds.
        let reserve = u128::from(self.min_per_second) * self.window.as_nanos() / 1_000;
        Ok((deposit, u64::try_from(reserve).unwrap_or(u64::MAX)))
    }
}

impl RetryBudget {
    /// The budget's current settings.
    pub fn settings(&self) -> super::BudgetSettings {
        let b = *self
            .state
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        super::BudgetSettings {
            ratio: b.ratio,
            min_per_second: b.min_per_second,
            window: b.window,
        }
    }

    /// Changes the ratio and the floor of this running budget, for every retry that holds it,
    /// keeping its balance: the requests and retries counted in the window stay, and what they
    /// allow is computed with the new ratio and floor from the next decision on. The window
    /// cannot change (the counts are kept in buckets of the old window's length); a new window
    /// is refused with an error on `window`. Validated first: on an error nothing changes.
    ///
    /// ```
    /// use bulwark::retry::RetryBudget;
    ///
    /// # fn main() -> Result<(), bulwark::ConfigError> {
    /// let budget = RetryBudget::builder().ratio(0.1).min_per_second(0).build()?;
    /// let mut settings = budget.settings();
    /// settings.ratio = 0.5;
    /// budget.reconfigure(&settings)?;
    /// assert_eq!(budget.settings().ratio, 0.5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconfigure(&self, settings: &super::BudgetSettings) -> Result<(), ConfigError> {
        let next = RetryBudget::builder().settings(settings);
        let (deposit, reserve) = next.units()?;
        let mut current = self
            .state
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if next.window != current.window {
            return Err(ConfigError::new(
                "retry_budget",
                "window",
                "cannot change on a running budget (its counts are kept in buckets of the old \
                 window); build a new budget for a new window",
            ));
        }
        self.state
            .deposit
            .store(deposit, std::sync::atomic::Ordering::Relaxed);
        self.state
            .reserve
            .store(reserve, std::sync::atomic::Ordering::Relaxed);
        *current = next;
        Ok(())
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.state;
        let window = s.bucket_nanos.saturating_mul(BUCKETS as u64);
        f.debug_struct("RetryBudget")
            .field(
                "ratio",
                &(s.deposit.load(std::sync::atomic::Ordering::Relaxed) as f64 / UNIT as f64),
            )
            .field("window", &Duration::from_nanos(window))
            .field("current_bucket", &s.current.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
