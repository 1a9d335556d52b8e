//! The state machine shared by every handle, layer and service of one breaker.
//!
//! The state is one atomic word, `generation (32) | state (8)`; every transition bumps the
//! generation, so a call admitted in one period can tell it is stale in the next. Admission in
//! the closed state is one load of that word. Transitions take a `Mutex` held for a few stores
//! (never across an `.await`, never while calling a listener); everything else is atomics.
//!
//! This file holds the state and admission; `record.rs` the recording and the trip rules;
//! `transition.rs` the transitions and the metrics snapshot.

use super::builder::{Config, WindowKind};
use super::count_window::CountWindow;
use super::events::{Event, OpenReason};
use super::live::Live;
use super::probes::{Probe, Probes};
use super::sync::{AtomicU64, Mutex, Ordering, Padded, StripedCounter, stripe_count};
use super::time_window::TimeWindow;
use super::window::{Counts, Window};
use super::{CircuitOpen, State};
use crate::backoff::Delays;
use crate::event::Listeners;
use std::num::NonZeroU64;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// What an admitted call is allowed to do; moved into the call's guard.
///
/// Two whole words: the generation and the mode share one (`generation (32) | mode code (8)`,
/// never zero, so `Option<Ticket>` stays two words). A ticket written field by field in narrower
/// stores and then read back as a word stalls the store-forwarding of the CPU on every call; two
/// word-sized fields are written and read the same way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    /// When the call started, in [`Core::now`]'s nanoseconds, or [`UNTIMED`] when no slow-call
    /// rule asked for the time.
    pub(super) start: u64,
    tag: NonZeroU64,
}

impl Ticket {
    #[inline]
    pub(super) fn new(generation: u32, mode: Mode) -> Self {
        let raw = (u64::from(generation) << 8) | u64::from(mode.code());
        Self {
            start: UNTIMED,
            tag: NonZeroU64::new(raw).unwrap_or(NonZeroU64::MAX),
        }
    }

    /// The period the call was admitted in.
    #[inline]
    pub(super) fn generation(self) -> u32 {
        (self.tag.get() >> 8) as u32
    }

    #[inline]
    pub(super) fn mode(self) -> Mode {
        Mode::from_code(self.tag.get() as u8)
    }
}

/// A ticket's `start` when the call was not timed (no slow-call rule when it started).
pub(super) const UNTIMED: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Closed (`trips`) or metrics-only: recorded in the window.
    Record { trips: bool },
    /// A half-open probe holding a slot.
    Probe,
    /// Disabled: nothing is recorded.
    Pass,
}

impl Mode {
    /// The mode's code in a [`Ticket`]: never zero.
    const fn code(self) -> u8 {
        match self {
            Self::Record { trips: true } => 1,
            Self::Record { trips: false } => 2,
            Self::Probe => 3,
            Self::Pass => 4,
        }
    }

    const fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Record { trips: true },
            2 => Self::Record { trips: false },
            3 => Self::Probe,
            _ => Self::Pass,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Live,
    pub(super) origin: Instant,
    pub(super) state: Padded<AtomicU64>,
    pub(super) open_until: AtomicU64,
    pub(super) half_open_since: AtomicU64,
    pub(super) probes: Probes,
    /// `generation (32) | consecutive failures (32)`.
    pub(super) consecutive: Padded<AtomicU64>,
    pub(super) window: Window,
    pub(super) rejected: StripedCounter,
    pub(super) transitions: Mutex<Transitions>,
    pub(super) watch: watch::Sender<State>,
    pub(crate) listeners: Listeners<Event>,
}

#[derive(Debug)]
pub(super) struct Transitions {
    /// The delays of the re-open backoff, restarted when the circuit closes.
    pub(super) reopen_delays: Option<Delays>,
    /// The closed window's figures when the circuit last left the closed (or metrics-only)
    /// state: what `metrics()` shows in every other state.
    pub(super) last_closed: Counts,
    /// The full configuration: the open duration and its backoff are read from here (under
    /// this lock); `settings()` reads everything from here.
    pub(super) config: Config,
}

pub(super) const fn word(generation: u32, state: State) -> u64 {
    ((generation as u64) << 8) + state_code(state)
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

pub(super) const fn state_of(word: u64) -> State {
    match word & 0xff {
        0 => State::Closed,
        1 => State::Open,
        2 => State::HalfOpen,
        3 => State::ForcedOpen,
        4 => State::Disabled,
        _ => State::MetricsOnly,
    }
}

pub(super) const fn generation_of(word: u64) -> u32 {
    (word >> 8) as u32
}

impl Core {
    pub(crate) fn new(config: Config, listeners: Listeners<Event>) -> Self {
        let stripes = stripe_count();
        let window = match config.window {
            WindowKind::Count(n) => Window::Count(CountWindow::new(n, 0)),
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
                last_closed: Counts::default(),
                config: config.clone(),
            }),
            watch,
            listeners,
            config: Live::new(&config),
        }
    }

    /// Nanoseconds since the breaker was built, on tokio's clock.
    pub(super) fn now(&self) -> u64 {
        self.nanos_at(Instant::now())
    }

    /// Nanoseconds from the breaker's building to `at` (zero for an earlier instant), below
    /// [`UNTIMED`].
    pub(super) fn nanos_at(&self, at: Instant) -> u64 {
        let elapsed = at.saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).map_or(UNTIMED - 1, |n| n.min(UNTIMED - 1))
    }

    pub(crate) fn state(&self) -> State {
        state_of(self.current())
    }

    /// The state word's state as it is, with no due transition applied (so no listener runs):
    /// for a reader holding a lock of its own (a keyed breaker's health check).
    #[cfg(all(feature = "keyed", feature = "health"))]
    pub(crate) fn state_as_is(&self) -> State {
        state_of(self.state.load(Ordering::Acquire))
    }

    /// Whether a fresh circuit may take this one's place (a keyed breaker evicting an idle key):
    /// not while open before its open duration ends, never while forced open. Reads the state
    /// word and the clock, and makes no transition (so no listener runs).
    #[cfg(feature = "keyed")]
    pub(crate) fn is_evictable(&self) -> bool {
        match state_of(self.state.load(Ordering::Acquire)) {
            State::ForcedOpen => false,
            State::Open => self.now() >= self.open_until.load(Ordering::Acquire),
            _ => true,
        }
    }

    /// The state word, with a due half-open timeout applied first: a half-open circuit that has
    /// not decided within `max_wait_in_half_open` is open from that moment, whoever looks first
    /// (a call, `state()`, `metrics()`). Reads the clock only while half-open with a max wait.
    pub(crate) fn current(&self) -> u64 {
        let mut current = self.state.load(Ordering::Acquire);
        while state_of(current) == State::HalfOpen {
            let Some(max) = self.config.max_wait_in_half_open() else {
                break;
            };
            let since = self.half_open_since.load(Ordering::Acquire);
            let deadline = since.saturating_add(max);
            if self.now() < deadline {
                break;
            }
            self.transition_at(
                Some(current),
                State::Open,
                OpenReason::HalfOpenTimedOut,
                Some(deadline),
            );
            current = self.state.load(Ordering::Acquire);
        }
        current
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<State> {
        self.watch.subscribe()
    }

    /// Admits a call or says why not. Never blocks; loops only while racing a transition.
    /// `report`: count the rejection and tell the listeners (not for a caller that will wait).
    ///
    /// The closed state, the common case, is decided here by one load of the state word; every
    /// other state is decided out of line, so the callers inline only that load.
    #[inline]
    pub(crate) fn acquire(&self, report: bool) -> Result<Ticket, CircuitOpen> {
        let current = self.state.load(Ordering::Acquire);
        if state_of(current) == State::Closed {
            return Ok(Ticket::new(
                generation_of(current),
                Mode::Record { trips: true },
            ));
        }
        self.acquire_from(current, report)
    }

    /// [`acquire`](Self::acquire) from the state word `current`, in any state.
    #[inline(never)]
    fn acquire_from(&self, mut current: u64, report: bool) -> Result<Ticket, CircuitOpen> {
        if state_of(current) == State::HalfOpen {
            current = self.current();
        }
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
                    self.transition(
                        Some(current),
                        State::HalfOpen,
                        OpenReason::OpenDurationElapsed,
                    );
                    current = self.current();
                    continue;
                }
                State::HalfOpen => match self.probes.try_acquire(generation) {
                    Probe::Admitted => Mode::Probe,
                    Probe::Stale => {
                        current = self.current();
                        continue;
                    }
                    Probe::Full => {
                        return Err(self.reject(State::HalfOpen, Duration::ZERO, report));
                    }
                },
            };
            return Ok(Ticket::new(generation, mode));
        }
    }

    fn reject(&self, state: State, retry_after: Duration, report: bool) -> CircuitOpen {
        let open = CircuitOpen::new(state, retry_after, *self.listeners.name());
        if report {
            self.count_rejection(&open);
        }
        open
    }

    /// Counts a rejection and tells the listeners.
    pub(crate) fn count_rejection(&self, open: &CircuitOpen) {
        self.rejected.add(1);
        let (state, retry_after) = (open.state(), open.retry_after());
        self.listeners.emit(|name| Event::Rejected {
            name,
            state,
            retry_after,
        });
    }

    /// Marks the moment the admitted call starts, when the slow-call rule needs it.
    #[inline]
    pub(crate) fn start(&self, ticket: &mut Ticket) {
        self.start_with(ticket, Instant::now);
    }

    /// [`start`](Self::start), with the clock read by `now` (called only if the slow-call rule
    /// needs the time). An instant before the breaker was built counts from its building.
    #[inline]
    pub(crate) fn start_with(&self, ticket: &mut Ticket, now: impl FnOnce() -> Instant) {
        if self.config.slow_call_on() && ticket.mode() != Mode::Pass {
            ticket.start = self.nanos_at(now());
        }
    }
}

impl Core {
    /// The transition lock; a poisoned lock is taken as it is (nothing panics while holding it
    /// but a bug, and the fields stay consistent store by store).
    pub(super) fn lock_transitions(&self) -> super::sync::MutexGuard<'_, Transitions> {
        match self.transitions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The current settings (see [`CircuitBreaker::settings`](super::CircuitBreaker::settings)).
    pub(crate) fn settings(&self) -> super::Settings {
        self.lock_transitions().config.settings()
    }

    /// Takes a validated configuration whose window must be this breaker's.
    pub(crate) fn reconfigure(&self, config: Config) -> Result<(), crate::ConfigError> {
        if config.window != self.config.window {
            let field = match config.window {
                WindowKind::Count(_) => "count_window",
                WindowKind::Time(_) => "time_window",
            };
            return Err(crate::ConfigError::new(
                "circuit_breaker",
                field,
                "the window cannot change on a running breaker (it would invent or forget \
                 calls); build a new breaker for a new window",
            ));
        }
        let mut t = self.lock_transitions();
        if t.config.reopen_backoff != config.reopen_backoff {
            t.reopen_delays = config.reopen_backoff.map(|b| b.delays());
        }
        self.config.store(&config);
        self.probes.set_permitted(config.probes);
        t.config = config;
        Ok(())
    }
}

#[cfg(all(test, not(bulwark_loom)))]
#[path = "core_tests.rs"]
mod tests;
