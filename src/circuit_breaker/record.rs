//! Recording outcomes: the closed window, the trip rules, and the verdict of half-open probes.

use super::State;
use super::builder::{DroppedCall, WindowKind};
use super::core::{Core, Mode, Ticket, UNTIMED, generation_of, word};
use super::events::{Event, OpenReason};
use super::sync::Ordering;
use super::window::{Counts, FAILURE, OCCUPIED, SLOW};
use crate::classify::Verdict;
use std::time::Duration;

impl Core {
    /// Records the outcome of a completed call.
    ///
    /// The steady state of a healthy closed circuit is decided inline: a success, timed by no
    /// slow-call rule, that would change nothing (see
    /// [`unchanged_by_success`](Self::unchanged_by_success)) records nothing, whatever the state
    /// word says, so only its event remains to emit. Everything else is recorded out of line.
    #[inline]
    pub(crate) fn record(&self, ticket: Ticket, outcome: Verdict) {
        if outcome == Verdict::Success
            && ticket.start == UNTIMED
            && matches!(ticket.mode(), Mode::Record { .. })
            && self.unchanged_by_success(ticket.generation())
        {
            if self.listeners.is_active() {
                self.emit_recorded(outcome, false);
            }
            return;
        }
        self.record_outcome(ticket, outcome);
    }

    /// Whether recording a success of the closed period `generation` (not slow) would write
    /// nothing: there is no consecutive-failure count to end (the rule is off; with it on, every
    /// success goes out of line, where ending a run is decided with the count itself), and the
    /// window would skip the call
    /// ([`Window::skips_success`](super::window::Window::skips_success)). Then
    /// [`record_closed`](Self::record_closed) changes nothing and opens nothing, and the state word
    /// need not be read.
    #[inline]
    fn unchanged_by_success(&self, generation: u32) -> bool {
        self.config.consecutive_failures().is_none() && self.window.skips_success(generation)
    }

    #[inline(never)]
    fn emit_recorded(&self, outcome: Verdict, slow: bool) {
        self.listeners.emit(|name| Event::Recorded {
            name,
            outcome,
            slow,
        });
    }

    /// [`record`](Self::record), in every case.
    #[inline(never)]
    fn record_outcome(&self, ticket: Ticket, outcome: Verdict) {
        let slow = ticket.start != UNTIMED
            && self.config.slow_call().is_some_and(|(limit, _)| {
                Duration::from_nanos(self.now().saturating_sub(ticket.start)) > limit
            });
        let slow = slow && outcome != Verdict::Ignored;
        match ticket.mode() {
            Mode::Pass => return,
            Mode::Probe => {
                let counted = (outcome != Verdict::Ignored).then_some((outcome, slow));
                self.finish_probe(ticket.generation(), counted);
            }
            Mode::Record { trips } => self.record_closed(ticket.generation(), trips, outcome, slow),
        }
        if self.listeners.is_active() {
            self.emit_recorded(outcome, slow);
        }
    }

    /// Gives back the ticket of a call dropped before it completed.
    pub(crate) fn release(&self, ticket: Ticket) {
        match ticket.mode() {
            Mode::Record { .. } if self.config.dropped() == DroppedCall::Failure => {
                self.record(ticket, Verdict::Failure);
            }
            Mode::Pass => {}
            _ => self.record(ticket, Verdict::Ignored),
        }
    }

    #[inline]
    fn record_closed(&self, generation: u32, trips: bool, outcome: Verdict, slow: bool) {
        if outcome == Verdict::Ignored
            || generation_of(self.state.load(Ordering::Acquire)) != generation
        {
            return;
        }
        let failure = outcome == Verdict::Failure;
        let consecutive = self.count_consecutive(generation, failure);
        let mut flags = OCCUPIED;
        if failure {
            flags |= FAILURE;
        }
        if slow {
            flags |= SLOW;
        }
        let counts = self.window.record(generation, || self.now(), flags);
        if !trips {
            return;
        }
        if let Some(reason) = self.trip_reason(counts, consecutive) {
            let expected = word(generation, State::Closed);
            self.transition(Some(expected), State::Open, reason);
        }
    }

    /// Counts failures in a row, when that rule is on. A success writes only if the count is
    /// not already zero, so a run of successes writes nothing.
    fn count_consecutive(&self, generation: u32, failure: bool) -> u32 {
        if self.config.consecutive_failures().is_none() {
            return 0;
        }
        let tag = u64::from(generation) << 32;
        let mut current = self.consecutive.load(Ordering::Relaxed);
        loop {
            if current >> 32 != u64::from(generation) {
                return 0;
            }
            let next = if failure { current + 1 } else { tag };
            if next == current {
                return 0;
            }
            match self.consecutive.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next as u32,
                Err(actual) => current = actual,
            }
        }
    }

    fn trip_reason(&self, counts: Option<Counts>, consecutive: u32) -> Option<OpenReason> {
        if let Some(limit) = self.config.consecutive_failures()
            && consecutive >= limit
        {
            return Some(OpenReason::ConsecutiveFailures { count: consecutive });
        }
        let counts = counts?;
        let minimum = match self.config.window {
            WindowKind::Count(n) => self.config.minimum_calls().min(n),
            WindowKind::Time(_) => self.config.minimum_calls(),
        };
        if counts.calls < minimum {
            return None;
        }
        if let Some(threshold) = self.config.failure_rate() {
            let rate = counts.failure_rate();
            if rate >= threshold {
                return Some(OpenReason::FailureRate { rate });
            }
        }
        if let Some((_, threshold)) = self.config.slow_call() {
            let rate = counts.slow_rate();
            if rate >= threshold {
                return Some(OpenReason::SlowCallRate { rate });
            }
        }
        None
    }

    fn finish_probe(&self, generation: u32, counted: Option<(Verdict, bool)>) {
        let Some(totals) = self.probes.finish(generation, counted) else {
            return;
        };
        let probes = self.probes.permitted();
        let permitted = f64::from(probes);
        let failed = f64::from(totals.failures) / permitted;
        let slow = f64::from(totals.slow) / permitted;
        let too_many_failures = match self.config.failure_rate() {
            Some(threshold) => failed >= threshold,
            None => totals.failures > 0,
        };
        let too_slow = self.config.slow_call().is_some_and(|(_, t)| slow >= t);
        let expected = Some(word(generation, State::HalfOpen));
        if too_many_failures || too_slow {
            let reason = OpenReason::ProbesFailed {
                failures: totals.failures,
                slow: totals.slow,
            };
            self.transition(expected, State::Open, reason);
        } else if totals.calls >= probes {
            self.transition(expected, State::Closed, OpenReason::ProbesSucceeded);
        }
    }
}
