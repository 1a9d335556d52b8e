//! The state machine shared by every handle, layer and service of one breaker.
//!
//! The state is one atomic word, `generation (32) | state (8)`; every transition bumps the
//! generation, so a call admitted in one period can tell it is stale in the next. Admission in
//! the closed state is one load of that word. Transitions take a `Mutex` held for a few stores
//! (never across an `.await`, never while calling a listener); everything else is atomics.

use super::config::{Config, DroppedCall, WindowKind};
use super::count_window::CountWindow;
use super::events::{Event, Reason};
use super::probes::{Probe, Probes};
use super::sync::{AtomicU64, Mutex, Ordering, Padded, StripedCounter, stripe_count};
use super::time_window::TimeWindow;
use super::window::{Counts, FAILURE, OCCUPIED, SLOW, Window};
use super::{CircuitOpen, Metrics, State};
use crate::backoff::Delays;
use crate::classify::Outcome;
use crate::event::Listeners;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// What an admitted call is allowed to do; moved into the call's guard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    generation: u32,
    mode: Mode,
    start: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Closed (`trips`) or metrics-only: recorded in the window.
    Record { trips: bool },
    /// A half-open probe holding a slot.
    Probe,
    /// Disabled: nothing is recorded.
    Pass,
}

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    origin: Instant,
    state: Padded<AtomicU64>,
    open_until: AtomicU64,
    half_open_since: AtomicU64,
    probes: Probes,
    /// `generation (32) | consecutive failures (32)`.
    consecutive: Padded<AtomicU64>,
    window: Window,
    rejected: StripedCounter,
    transitions: Mutex<Transitions>,
    watch: watch::Sender<State>,
    pub(crate) listeners: Listeners<Event>,
}

#[derive(Debug)]
struct Transitions {
    /// The delays of the re-open backoff, restarted when the circuit closes.
    reopen_delays: Option<Delays>,
}

const fn word(generation: u32, state: State) -> u64 {
    ((generation as u64) << 8) | state_code(state)
}

const fn state_code(state: State) -> u64 {
    match state {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
        State::ForcedOpen => 3,
        State::Disabled => 4,
        State::MetricsOnly => 5,
    }
}

const fn state_of(word: u64) -> State {
    match word & 0xff {
        0 => State::Closed,
        1 => State::Open,
        2 => State::HalfOpen,
        3 => State::ForcedOpen,
        4 => State::Disabled,
        _ => State::MetricsOnly,
    }
}

const fn generation_of(word: u64) -> u32 {
    (word >> 8) as u32
}

impl Core {
    pub(crate) fn new(config: Config, listeners: Listeners<Event>) -> Self {
        let stripes = stripe_count();
        let window = match config.window {
            WindowKind::Count(n) => Window::Count(CountWindow::new(n, stripes, 0)),
            WindowKind::Time(d) => Window::Time(TimeWindow::new(d, stripes)),
        };
        let (watch, _) = watch::channel(State::Closed);
        Self {
            probes: Probes::new(config.probes),
            origin: Instant::now(),
            state: Padded(AtomicU64::new(word(0, State::Closed))),
            open_until: AtomicU64::new(0),
            half_open_since: AtomicU64::new(0),
            consecutive: Padded(AtomicU64::new(0)),
            window,
            rejected: StripedCounter::new(stripes),
            transitions: Mutex::new(Transitions {
                reopen_delays: config.reopen_backoff.map(|b| b.delays()),
            }),
            watch,
            listeners,
            config,
        }
    }

    /// Nanoseconds since the breaker was built, on tokio's clock.
    fn now(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn state(&self) -> State {
        state_of(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<State> {
        self.watch.subscribe()
    }

    /// Admits a call or says why not. Never blocks; loops only while racing a transition.
    /// `report`: count the rejection and tell the listeners (not for a caller that will wait).
    pub(crate) fn acquire(&self, report: bool) -> Result<Ticket, CircuitOpen> {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let generation = generation_of(current);
            let mode = match state_of(current) {
                State::Closed => Mode::Record { trips: true },
                State::MetricsOnly => Mode::Record { trips: false },
                State::Disabled => Mode::Pass,
                State::ForcedOpen => {
                    return Err(self.reject(State::ForcedOpen, Duration::MAX, report));
                }
                State::Open => {
                    let now = self.now();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        let wait = Duration::from_nanos(until - now);
                        return Err(self.reject(State::Open, wait, report));
                    }
                    self.transition(Some(current), State::HalfOpen, Reason::OpenDurationElapsed);
                    current = self.state.load(Ordering::Acquire);
                    continue;
                }
                State::HalfOpen => match self.probes.try_acquire(generation) {
                    Probe::Admitted => Mode::Probe,
                    Probe::Stale => {
                        current = self.state.load(Ordering::Acquire);
                        continue;
                    }
                    Probe::Full => {
                        let since = self.half_open_since.load(Ordering::Acquire);
                        let waited = Duration::from_nanos(self.now().saturating_sub(since));
                        if self
                            .config
                            .max_wait_in_half_open
                            .is_some_and(|max| waited >= max)
                        {
                            self.transition(Some(current), State::Open, Reason::HalfOpenTimedOut);
                            current = self.state.load(Ordering::Acquire);
                            continue;
                        }
                        return Err(self.reject(State::HalfOpen, Duration::ZERO, report));
                    }
                },
            };
            return Ok(Ticket {
                generation,
                mode,
                start: None,
            });
        }
    }

    fn reject(&self, state: State, retry_after: Duration, report: bool) -> CircuitOpen {
        let open = CircuitOpen::new(state, retry_after);
        if report {
            self.count_rejection(&open);
        }
        open
    }

    /// Counts a rejection and tells the listeners.
    pub(crate) fn count_rejection(&self, open: &CircuitOpen) {
        self.rejected.add(1);
        let (state, retry_after) = (open.state(), open.retry_after());
        self.listeners
            .emit(|| Event::Rejected { state, retry_after });
    }

    /// Marks the moment the admitted call starts, when the slow-call rule needs it.
    #[inline]
    pub(crate) fn start(&self, ticket: &mut Ticket) {
        if self.config.slow_call.is_some() && ticket.mode != Mode::Pass {
            ticket.start = Some(Instant::now());
        }
    }

    /// Records the outcome of a completed call.
    pub(crate) fn record(&self, ticket: Ticket, outcome: Outcome) {
        let slow = match (self.config.slow_call, ticket.start) {
            (Some((limit, _)), Some(start)) => start.elapsed() > limit,
            _ => false,
        };
        let slow = slow && outcome != Outcome::Ignored;
        match ticket.mode {
            Mode::Pass => return,
            Mode::Probe => {
                let counted = (outcome != Outcome::Ignored).then_some((outcome, slow));
                self.finish_probe(ticket.generation, counted);
            }
            Mode::Record { trips } => self.record_closed(ticket.generation, trips, outcome, slow),
        }
        self.listeners.emit(|| Event::Recorded { outcome, slow });
    }

    /// Gives back the ticket of a call dropped before it completed.
    pub(crate) fn release(&self, ticket: Ticket) {
        match ticket.mode {
            Mode::Record { .. } if self.config.dropped == DroppedCall::Failure => {
                self.record(ticket, Outcome::Failure);
            }
            Mode::Pass => {}
            _ => self.record(ticket, Outcome::Ignored),
        }
    }

    fn record_closed(&self, generation: u32, trips: bool, outcome: Outcome, slow: bool) {
        if outcome == Outcome::Ignored
            || generation_of(self.state.load(Ordering::Acquire)) != generation
        {
            return;
        }
        let failure = outcome == Outcome::Failure;
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
        if self.config.consecutive_failures.is_none() {
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

    fn trip_reason(&self, counts: Option<Counts>, consecutive: u32) -> Option<Reason> {
        if let Some(limit) = self.config.consecutive_failures {
            if consecutive >= limit {
                return Some(Reason::ConsecutiveFailures { count: consecutive });
            }
        }
        let counts = counts?;
        let minimum = match self.config.window {
            WindowKind::Count(n) => self.config.minimum_calls.min(n),
            WindowKind::Time(_) => self.config.minimum_calls,
        };
        if counts.calls < minimum {
            return None;
        }
        if let Some(threshold) = self.config.failure_rate {
            let rate = counts.failure_rate();
            if rate >= threshold {
                return Some(Reason::FailureRate { rate });
            }
        }
        if let Some((_, threshold)) = self.config.slow_call {
            let rate = counts.slow_rate();
            if rate >= threshold {
                return Some(Reason::SlowCallRate { rate });
            }
        }
        None
    }

    fn finish_probe(&self, generation: u32, counted: Option<(Outcome, bool)>) {
        let Some(totals) = self.probes.finish(generation, counted) else {
            return;
        };
        let permitted = f64::from(self.config.probes);
        let failed = f64::from(totals.failures) / permitted;
        let slow = f64::from(totals.slow) / permitted;
        let too_many_failures = match self.config.failure_rate {
            Some(threshold) => failed >= threshold,
            None => totals.failures > 0,
        };
        let too_slow = self.config.slow_call.is_some_and(|(_, t)| slow >= t);
        let expected = Some(word(generation, State::HalfOpen));
        if too_many_failures || too_slow {
            let reason = Reason::ProbesFailed {
                failures: totals.failures,
                slow: totals.slow,
            };
            self.transition(expected, State::Open, reason);
        } else if totals.calls >= self.config.probes {
            self.transition(expected, State::Closed, Reason::ProbesSucceeded);
        }
    }

    /// Moves to `to` if the state word is still `expected` (or unconditionally for `None`).
    /// Returns whether it moved. Listeners run after the lock is released.
    pub(crate) fn transition(&self, expected: Option<u64>, to: State, reason: Reason) -> bool {
        let from = {
            let mut t = match self.transitions.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let current = self.state.load(Ordering::Acquire);
            if expected.is_some_and(|e| e != current) {
                return false;
            }
            let from = state_of(current);
            let generation = generation_of(current).wrapping_add(1);
            let now = self.now();
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
                    let open_for = t.open_duration(&self.config, from == State::HalfOpen);
                    let nanos = u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX);
                    self.open_until
                        .store(now.saturating_add(nanos), Ordering::Release);
                }
                State::HalfOpen => {
                    self.probes.reset(generation);
                    self.half_open_since.store(now, Ordering::Release);
                }
                State::ForcedOpen | State::Disabled => {}
            }
            self.state.store(word(generation, to), Ordering::Release);
            self.watch.send_replace(to);
            from
        };
        self.listeners
            .emit(|| Event::StateChanged { from, to, reason });
        true
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let current = self.state.load(Ordering::Acquire);
        let counts = match state_of(current) {
            State::Closed | State::MetricsOnly => {
                self.window.counts(generation_of(current), self.now())
            }
            _ => Counts::default(),
        };
        Metrics {
            state: state_of(current),
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_rate(),
            rejected: self.rejected.sum(),
            probes_in_flight: self.probes.in_flight(generation_of(current)),
        }
    }
}

impl Transitions {
    /// The open duration for this opening: the base one, or the backoff's next delay after a
    /// failed half-open trial.
    fn open_duration(&mut self, config: &Config, reopen: bool) -> Duration {
        match (&mut self.reopen_delays, reopen) {
            (Some(delays), true) => delays.next().unwrap_or(config.open_duration),
            _ => config.open_duration,
        }
    }

    fn restart_backoff(&mut self) {
        if let Some(delays) = &mut self.reopen_delays {
            delays.reset();
        }
    }
}
