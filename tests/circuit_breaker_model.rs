//! Property test: the breaker against a simple reference model of its windows and trip rules.

use bulwark::circuit_breaker::{CircuitBreaker, Error, State};
use bulwark::classify::Outcome;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::time::Duration;

const SLOW: Duration = Duration::from_millis(10);
const TIME_WINDOW: Duration = Duration::from_millis(1000);
const BUCKET_NANOS: u64 = 100_000_000;

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
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop::option::weighted(0.7, 1u32..20),
        1u32..25,
        prop::option::weighted(0.8, prop::sample::select(vec![0.2, 0.5, 0.6, 0.75, 1.0])),
        prop::option::of(prop::sample::select(vec![0.3, 0.5, 1.0])),
        prop::option::of(1u32..6),
    )
        .prop_map(
            |(count_window, minimum_calls, failure_rate, slow_rate, consecutive)| Settings {
                count_window,
                minimum_calls,
                failure_rate,
                slow_rate,
                consecutive,
            },
        )
}

/// The reference: a plain list of recorded calls, `(end time, failed, slow)`.
struct Model {
    s: Settings,
    calls: VecDeque<(u64, bool, bool)>,
    run: u32,
    now: u64,
    open: bool,
}

impl Model {
    fn window(&self) -> impl Iterator<Item = &(u64, bool, bool)> {
        let now_epoch = self.now / BUCKET_NANOS;
        self.calls.iter().filter(move |(t, _, _)| {
            self.s.count_window.is_some() || now_epoch - t / BUCKET_NANOS < 10
        })
    }

    fn counts(&self) -> (u32, u32, u32) {
        self.window()
            .fold((0, 0, 0), |(c, f, s), &(_, fail, slow)| {
                (c + 1, f + u32::from(fail), s + u32::from(slow))
            })
    }

    fn record(&mut self, failed: bool, slow: bool) {
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
            self.open = true;
            return;
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
            self.open = true;
        }
    }
}

/// `Ok(true)` is a call the classifier ignores.
type Classifier = fn(&Result<bool, ()>) -> Outcome;

fn classify(r: &Result<bool, ()>) -> Outcome {
    match r {
        Ok(true) => Outcome::Ignored,
        Ok(false) => Outcome::Success,
        Err(()) => Outcome::Failure,
    }
}

fn build(s: &Settings) -> CircuitBreaker<Classifier> {
    let mut b = CircuitBreaker::builder()
        .minimum_calls(s.minimum_calls)
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
    fn breaker_matches_the_reference_model(s in settings(), ops in prop::collection::vec(op(), 1..200)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let b = build(&s);
            let mut m = Model { s: s.clone(), calls: VecDeque::new(), run: 0, now: 0, open: false };
            for (i, op) in ops.into_iter().enumerate() {
                let (failed, slow) = match op {
                    Op::Advance(ms) => {
                        tokio::time::advance(Duration::from_millis(ms)).await;
                        m.now += ms * 1_000_000;
                        continue;
                    }
                    Op::Success => (false, false),
                    Op::Failure => (true, false),
                    Op::SlowSuccess => (false, true),
                    Op::SlowFailure => (true, true),
                    Op::Ignored => {
                        let r = b.run(|| async { Ok(true) }).await;
                        prop_assert!(r.is_ok());
                        prop_assert_eq!(b.metrics().calls, m.counts().0);
                        continue;
                    }
                };
                let slow_by = if slow { SLOW + Duration::from_millis(1) } else { Duration::ZERO };
                let r = b.run(|| async move {
                    if !slow_by.is_zero() {
                        tokio::time::advance(slow_by).await;
                    }
                    if failed { Err(()) } else { Ok(false) }
                }).await;
                prop_assert!(!matches!(r, Err(Error::Open(_))), "step {}: rejected", i);
                m.now += u64::try_from(slow_by.as_nanos()).unwrap();
                m.record(failed, slow && s.slow_rate.is_some());
                if m.open {
                    prop_assert_eq!(b.state(), State::Open, "step {}", i);
                    b.reset();
                    m.calls.clear();
                    m.run = 0;
                    m.open = false;
                    continue;
                }
                prop_assert_eq!(b.state(), State::Closed, "step {}", i);
                let metrics = b.metrics();
                let (calls, failures, slows) = m.counts();
                prop_assert_eq!((metrics.calls, metrics.failures, metrics.slow_calls), (calls, failures, slows), "step {}", i);
            }
            Ok(())
        })?;
    }
}
