//! Adaptive limits: the algorithms ([`Aimd`], [`Vegas`]) and the controller that feeds them each
//! completed call and applies the limit they choose to the bulkhead's semaphore, through the same
//! resize as [`Bulkhead::set_max_concurrent`](super::Bulkhead::set_max_concurrent).
//!
//! The controller's state is behind a `std` mutex taken once per completed call, for a few
//! arithmetic operations (never across an `.await`, never while user code runs); listeners hear
//! of a change after it is released. A fixed bulkhead has no controller and reads no clock.

/// The three bound setters every algorithm's builder has (each builder keeps a `bounds` field).
macro_rules! bound_setters {
    () => {
        /// The limit the bulkhead starts with (within `min_limit..=max_limit`).
        pub fn initial_limit(mut self, n: usize) -> Self {
            self.bounds.initial = n;
            self
        }

        /// The lowest the limit goes (at least 1).
        pub fn min_limit(mut self, n: usize) -> Self {
            self.bounds.min = n;
            self
        }

        /// The highest the limit goes (at most `usize::MAX >> 3`).
        pub fn max_limit(mut self, n: usize) -> Self {
            self.bounds.max = n;
            self
        }
    };
}

mod aimd;
mod vegas;

pub use aimd::{Aimd, AimdBuilder};
pub use vegas::{Vegas, VegasBuilder};

use super::semaphore::MAX_PERMITS;
use crate::ConfigError;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// An adaptive limit for [`Builder::adaptive`](super::Builder::adaptive): an [`Aimd`] or a
/// [`Vegas`] (both convert into it).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum AdaptiveLimit {
    /// Additive increase, multiplicative decrease.
    Aimd(Aimd),
    /// The queue at the dependency, estimated from its latency.
    Vegas(Vegas),
}

impl AdaptiveLimit {
    pub(super) fn bounds(&self) -> Bounds {
        match self {
            AdaptiveLimit::Aimd(a) => a.bounds,
            AdaptiveLimit::Vegas(v) => v.bounds,
        }
    }
}

impl From<Aimd> for AdaptiveLimit {
    fn from(a: Aimd) -> Self {
        AdaptiveLimit::Aimd(a)
    }
}

impl From<Vegas> for AdaptiveLimit {
    fn from(v: Vegas) -> Self {
        AdaptiveLimit::Vegas(v)
    }
}

/// The initial limit and the range of an adaptive one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Bounds {
    pub(super) initial: usize,
    pub(super) min: usize,
    pub(super) max: usize,
}

impl Bounds {
    pub(super) const DEFAULT: Bounds = Bounds {
        initial: 20,
        min: 1,
        max: 200,
    };

    pub(super) fn clamp(&self, n: usize) -> usize {
        n.clamp(self.min, self.max)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |field, reason| Err(ConfigError::new("bulkhead", field, reason));
        if self.min == 0 {
            return fail("min_limit", "must be at least 1");
        }
        if self.max > MAX_PERMITS {
            return fail("max_limit", "must be at most usize::MAX >> 3");
        }
        if self.max < self.min {
            return fail("max_limit", "must be at least min_limit");
        }
        if !(self.min..=self.max).contains(&self.initial) {
            return fail("initial_limit", "must be within min_limit..=max_limit");
        }
        Ok(())
    }
}

/// The calls of one round: those that started after the limit last changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Round {
    pub(super) samples: usize,
    total_nanos: u64,
    pub(super) max_in_flight: usize,
}

impl Round {
    fn add(&mut self, latency: Duration, in_flight: usize) {
        self.samples += 1;
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.total_nanos = self.total_nanos.saturating_add(nanos);
        self.max_in_flight = self.max_in_flight.max(in_flight);
    }

    pub(super) fn mean(&self) -> Duration {
        match u64::try_from(self.samples) {
            Ok(n) if n > 0 => Duration::from_nanos(self.total_nanos / n),
            _ => Duration::ZERO,
        }
    }
}

/// Feeds completed calls to the algorithm and applies the limits it chooses.
pub(super) struct Controller {
    algorithm: AdaptiveLimit,
    /// Call start times are kept as nanoseconds since this instant, plus one (0 is "not timed").
    epoch: Instant,
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Calls that started before this (nanoseconds since the epoch, plus one) ran under an older
    /// limit: they are not counted.
    round_start: u64,
    round: Round,
    /// The lowest latency of any call so far (Vegas's `rtt_noload`).
    no_load: Option<Duration>,
}

/// A change of limit: from, to.
pub(super) type Change = (usize, usize);

impl Controller {
    pub(super) fn new(algorithm: AdaptiveLimit) -> Self {
        Self {
            algorithm,
            epoch: Instant::now(),
            state: Mutex::new(State {
                limit: algorithm.bounds().initial,
                round_start: 0,
                round: Round::default(),
                no_load: None,
            }),
        }
    }

    pub(super) fn algorithm(&self) -> &AdaptiveLimit {
        &self.algorithm
    }

    /// Now, as a call's start time: nanoseconds since the epoch plus one, never 0.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        let nanos = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX).saturating_add(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing under the mutex can panic half-way through a change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports a call that started at `started` (from [`Self::now`]) and completed now, `failed`
    /// or not, with `in_flight` calls holding a slot (itself included). If the limit changes,
    /// `apply` is called with the new one before the mutex is released (so that changes reach
    /// the semaphore in the order they were decided), and the change is returned. `apply` may
    /// wake waiters granted a slot by a raised limit: a waker schedules its task, it does not
    /// poll it there, so nothing reports to this controller while its mutex is held.
    pub(super) fn complete(
        &self,
        started: u64,
        failed: bool,
        in_flight: usize,
        apply: impl FnOnce(usize),
    ) -> Option<Change> {
        self.complete_at(self.now(), started, failed, in_flight, apply)
    }

    /// [`Self::complete`] at `now` (from [`Self::now`]).
    fn complete_at(
        &self,
        now: u64,
        started: u64,
        failed: bool,
        in_flight: usize,
        apply: impl FnOnce(usize),
    ) -> Option<Change> {
        let latency = Duration::from_nanos(now.saturating_sub(started));
        let mut state = self.lock();
        let state = &mut *state;
        if let AdaptiveLimit::Vegas(_) = self.algorithm {
            state.no_load = Some(state.no_load.map_or(latency, |l| l.min(latency)));
        }
        if started < state.round_start {
            return None;
        }
        let from = state.limit;
        let to = match &self.algorithm {
            AdaptiveLimit::Aimd(a) if a.is_drop(latency, failed) => a.decreased(from),
            AdaptiveLimit::Vegas(v) if failed => v.decreased(from),
            algorithm => {
                state.round.add(latency, in_flight);
                if state.round.samples < from {
                    return None;
                }
                match algorithm {
                    AdaptiveLimit::Aimd(a) => a.after_round(from, &state.round),
                    AdaptiveLimit::Vegas(v) => {
                        v.after_round(from, &state.round, state.no_load.unwrap_or(latency))
                    }
                }
            }
        };
        state.round = Round::default();
        state.round_start = now;
        if to == from {
            return None;
        }
        state.limit = to;
        apply(to);
        Some((from, to))
    }

    /// Sets the limit from outside (an operator's change): the algorithm carries on from it,
    /// with a new round.
    pub(super) fn set(&self, n: usize, apply: impl FnOnce(usize)) {
        let now = self.now();
        let mut state = self.lock();
        state.limit = n;
        state.round = Round::default();
        state.round_start = now;
        apply(n);
    }
}

#[cfg(test)]
mod tests;

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("algorithm", &self.algorithm)
            .field("limit", &self.lock().limit)
            .finish()
    }
}
