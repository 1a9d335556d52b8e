//! Property test: the breaker against a simple reference model of its windows, its trip rules
//! and its open and half-open states, driven by random outcomes and random waits.

use bulwark::Error;
use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::classify::Verdict;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::time::Duration;

const SLOW: Duration = Duration::from_millis(10);
const TIME_WINDOW: Duration = Duration::from_millis(1000);
const BUCKET_NANOS: u64 = 100_000_000;
const OPEN_NANOS: u64 = 500_000_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Success,
    Failure,
    Ignored,
    SlowSuccess,
    SlowFailure,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Success),
        3 => Just(Op::Failure),
        1 => Just(Op::Ignored),
        1 => Just(Op::SlowSuccess),
        1 => Just(Op::SlowFailure),
        1 => (1u64..400).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug)]
struct Settings {
    count_window: Option<u32>,
    minimum_calls: u32,
    failure_rate: Option<f64>,
    slow_rate: Option<f64>,
    consecutive: Option<u32>,
    probes: u32,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop::option::weighted(0.7, 1u32..20),
        1u32..25,
        prop::option::weighted(0.8, prop::sample::select(vec![0.2, 0.5, 0.6, 0.75, 1.0])),
        prop::option::of(prop::sample::select(vec![0.3, 0.5, 1.0])),
        prop::option::of(1u32..6),
        1u32..5,
    )
        .prop_map(
            |(count_window, minimum_calls, failure_rate, slow_rate, consecutive, probes)| {
                Settings {
                    count_window,
                    minimum_calls,
                    failure_rate,
                    slow_rate,
                    consecutive,
                    probes,
                }
            },
        )
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ModelState {
    Closed,
    Open {
        until: u64,
    },
    HalfOpen {
        completed: u32,
        failed: u32,
        slow: u32,
    },
}

/// The reference: a plain list of recorded calls, `(end time, failed, slow)`, and the state.
struct Model {
    s: Settings,
    calls: VecDeque<(u64, bool, bool)>,
    run: u32,
    now: u64,
    state: ModelState,
}

impl Model {
    fn counts(&self) -> (u32, u32, u32) {
        let now_epoch = self.now / BUCKET_NANOS;
        self.calls
            .iter()
            .filter(|(t, _, _)| self.s.count_window.is_some() || now_epoch - t / BUCKET_NANOS < 10)
            .fold((0, 0, 0), |(c, f, s), &(_, fail, slow)| {
                (c + 1, f + u32::from(fail), s + u32::from(slow))
            })
    }

    fn open(&mut self) {
        self.state = ModelState::Open {
            until: self.now + OPEN_NANOS,
        };
    }

    /// Whether a call arriving now is admitted; moves Open to HalfOpen when its time is up.
    fn admits(&mut self) -> Result<(), u64> {
        if let ModelState::Open { until } = self.state {
            if self.now < until {
                return Err(until - self.now);
            }
            self.state = ModelState::HalfOpen {
                completed: 0,
                failed: 0,
                slow: 0,
            };
        }
        Ok(())
    }

    /// Records an admitted, non-ignored call ending now.
    fn record(&mut self, failed: bool, slow: bool) {
        match self.state {
            ModelState::Closed => self.record_closed(failed, slow),
            ModelState::HalfOpen {
                completed,
                failed: f,
                slow: s,
            } => {
                let (completed, f, s) = (completed + 1, f + u32::from(failed), s + u32::from(slow));
                let permitted = f64::from(self.s.probes);
                let too_many = match self.s.failure_rate {
                    Some(t) => f64::from(f) / permitted >= t,
                    None => f > 0,
                };
                let too_slow = self
                    .s
                    .slow_rate
                    .is_some_and(|t| f64::from(s) / permitted >= t);
                if too_many || too_slow {
                    self.open();
                } else if completed >= self.s.probes {
                    self.state = ModelState::Closed;
                    self.calls.clear();
                    self.run = 0;
                } else {
                    self.state = ModelState::HalfOpen {
                        completed,
                        failed: f,
                        slow: s,
                    };
                }
            }
            ModelState::Open { .. } => unreachable!("admitted while open"),
        }
    }

    fn record_closed(&mut self, failed: bool, slow: bool) {
        self.calls.push_back((self.now, failed, slow));
        if let Some(n) = self.s.count_window {
            while self.calls.len() > n as usize {
                self.calls.pop_front();
            }
        }
        self.run = if failed { self.run + 1 } else { 0 };
        if !(failed || slow) {
            return;
        }
        if self.s.consecutive.is_some_and(|c| self.run >= c) {
            return self.open();
        }
        let (calls, failures, slows) = self.counts();
        let minimum = match self.s.count_window {
            Some(n) => self.s.minimum_calls.min(n),
            None => self.s.minimum_calls,
        };
        if calls < minimum {
            return;
        }
        let rate = |part: u32| f64::from(part) / f64::from(calls);
        if self.s.failure_rate.is_some_and(|t| rate(failures) >= t)
            || self.s.slow_rate.is_some_and(|t| rate(slows) >= t)
        {
            self.open();
        }
    }
}

/// `Ok(true)` is a call the classifier ignores.
type Classifier = fn(&Result<bool, ()>) -> Verdict;

fn classify(r: &Result<bool, ()>) -> Verdict {
    match r {
        Ok(true) => Verdict::Ignored,
        Ok(false) => Verdict::Success,
        Err(()) => Verdict::Failure,
    }
}

fn build(s: &Settings) -> CircuitBreaker<Classifier> {
    let mut b = CircuitBreaker::builder()
        .minimum_calls(s.minimum_calls)
        .open_duration(Duration::from_nanos(OPEN_NANOS))
        .permitted_calls_in_half_open(s.probes)
        .classifier(classify as Classifier);
    b = match s.count_window {
        Some(n) => b.count_window(n),
        None => b.time_window(TIME_WINDOW),
    };
    b = match s.failure_rate {
        Some(t) => b.failure_rate_threshold(t),
        None => b.no_failure_rate_threshold(),
    };
    if let Some(t) = s.slow_rate {
        b = b.slow_call_threshold(SLOW, t);
    }
    if let Some(c) = s.consecutive {
        b = b.consecutive_failures(c);
    }
    b.build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_the_reference_model(s in settings(), ops in prop::collection::vec(op(), 1..300)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let b = build(&s);
            let mut m = Model { s: s.clone(), calls: VecDeque::new(), run: 0, now: 0, state: ModelState::Closed };
            for (i, op) in ops.into_iter().enumerate() {
                let (failed, slow, ignored) = match op {
                    Op::Advance(ms) => {
                        tokio::time::advance(Duration::from_millis(ms)).await;
                        m.now += ms * 1_000_000;
                        continue;
                    }
                    Op::Success => (false, false, false),
                    Op::Failure => (true, false, false),
                    Op::SlowSuccess => (false, true, false),
                    Op::SlowFailure => (true, true, false),
                    Op::Ignored => (false, false, true),
                };
                let admitted = m.admits();
                let slow_by = if slow { SLOW + Duration::from_millis(1) } else { Duration::ZERO };
                let r = b.run(|| async move {
                    if !slow_by.is_zero() {
                        tokio::time::advance(slow_by).await;
                    }
                    if failed { Err(()) } else { Ok(ignored) }
                }).await;
                match (admitted, r) {
                    (Err(wait), Err(Error::CircuitOpen(open))) => {
                        prop_assert_eq!(open.retry_after(), Duration::from_nanos(wait), "step {}", i);
                        prop_assert_eq!(b.state(), State::Open, "step {}", i);
                        continue;
                    }
                    (Err(_), r) => prop_assert!(false, "step {}: expected a rejection, got {:?}", i, r),
                    (Ok(()), Err(Error::CircuitOpen(open))) => prop_assert!(false, "step {}: rejected {:?}", i, open),
                    (Ok(()), _) => {}
                }
                m.now += u64::try_from(slow_by.as_nanos()).unwrap();
                if !ignored {
                    m.record(failed, slow && s.slow_rate.is_some());
                }
                let expected = match m.state {
                    ModelState::Closed => State::Closed,
                    ModelState::Open { .. } => State::Open,
                    ModelState::HalfOpen { .. } => State::HalfOpen,
                };
                prop_assert_eq!(b.state(), expected, "step {}", i);
                if m.state == ModelState::Closed {
                    let metrics = b.metrics();
                    let (calls, failures, slows) = m.counts();
                    prop_assert_eq!(
                        (metrics.calls, metrics.failures, metrics.slow_calls),
                        (calls, failures, slows),
                        "step {}", i
                    );
                }
            }
            Ok(())
        })?;
    }
}
