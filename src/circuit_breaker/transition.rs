//! State transitions (under the transition mutex, listeners after it) and metrics snapshots.

use super::core::{Core, Transitions, generation_of, state_of, word};
use super::events::{Event, OpenReason};
use super::sync::Ordering;
use super::{Metrics, State};
use std::time::Duration;

impl Core {
    /// Moves to `to` if the state word is still `expected` (or unconditionally for `None`, a
    /// manual transition). Returns whether the state changed. Listeners run after the lock is
    /// released.
    ///
    /// A manual transition into the current state is no transition: no event, no `watch`
    /// notification, no new generation. The one exception is a reset of a closed circuit, which
    /// still empties its window and restarts the re-open backoff (a new generation, since that is
    /// how the window is emptied), silently.
    pub(crate) fn transition(&self, expected: Option<u64>, to: State, reason: OpenReason) -> bool {
        self.transition_at(expected, to, reason, None)
    }

    /// [`transition`](Self::transition), for a transition that became due at `at` (nanoseconds
    /// since the breaker was built) rather than now: an open period then starts at `at`.
    pub(crate) fn transition_at(
        &self,
        expected: Option<u64>,
        to: State,
        reason: OpenReason,
        at: Option<u64>,
    ) -> bool {
        let from = {
            let mut t = self.lock_transitions();
            let current = self.state.load(Ordering::Acquire);
            if expected.is_some_and(|e| e != current) {
                return false;
            }
            let from = state_of(current);
            let same = expected.is_none() && from == to;
            if same && to != State::Closed {
                return false;
            }
            let generation = generation_of(current).wrapping_add(1);
            let now = self.now();
            let records = |state| matches!(state, State::Closed | State::MetricsOnly);
            if records(from) && !records(to) {
                t.last_closed = self.window.counts(generation_of(current), now);
            }
            match to {
                State::Closed | State::MetricsOnly => {
                    self.window.reset(generation);
                    self.consecutive
                        .store(u64::from(generation) << 32, Ordering::Relaxed);
                    if to == State::Closed {
                        t.restart_backoff();
                    }
                }
                State::Open => {
                    let open_for = t.open_duration(from == State::HalfOpen);
                    let nanos = u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX);
                    let start = at.map_or(now, |at| at.min(now));
                    self.open_until
                        .store(start.saturating_add(nanos), Ordering::Release);
                }
                State::HalfOpen => {
                    self.probes.reset(generation);
                    self.half_open_since.store(now, Ordering::Release);
                }
                State::ForcedOpen | State::Disabled => {}
            }
            self.state.store(word(generation, to), Ordering::Release);
            if same {
                return false;
            }
            self.watch.send_replace(to);
            from
        };
        self.listeners.emit(|name| Event::StateChanged {
            name,
            from,
            to,
            reason,
        });
        true
    }

    /// A snapshot: the live window while closed or metrics-only, else the figures the window held
    /// when the circuit left those states; the probes of the current half-open period.
    pub(crate) fn metrics(&self) -> Metrics {
        let mut current = self.current();
        let live = |word: u64| matches!(state_of(word), State::Closed | State::MetricsOnly);
        let counts = if live(current) {
            self.window.counts(generation_of(current), self.now())
        } else {
            let t = self.lock_transitions();
            // Read again under the lock, so that the figures belong to the state reported.
            current = self.state.load(Ordering::Acquire);
            if live(current) {
                drop(t);
                self.window.counts(generation_of(current), self.now())
            } else {
                t.last_closed
            }
        };
        let probes = self.probes.snapshot(generation_of(current));
        Metrics {
            state: state_of(current),
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_rate(),
            rejected: self.rejected.sum(),
            probes_in_flight: probes.in_flight,
            probes_completed: probes.calls,
            probes_failed: probes.failures,
            probes_slow: probes.slow,
        }
    }
}

impl Transitions {
    /// The open duration for this opening: the base one, or the backoff's next delay after a
    /// failed half-open trial.
    fn open_duration(&mut self, reopen: bool) -> Duration {
        match (&mut self.reopen_delays, reopen) {
            (Some(delays), true) => delays.next().unwrap_or(self.config.open_duration),
            _ => self.config.open_duration,
        }
    }

    fn restart_backoff(&mut self) {
        if let Some(delays) = &mut self.reopen_delays {
            delays.reset();
        }
    }
}
