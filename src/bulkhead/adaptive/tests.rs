//! The algorithms' invariants, on calls reported at made-up times (no clock, no runtime).

use super::*;
use proptest::prelude::*;

const MS: u64 = 1_000_000;

/// One completed call: the gap since the previous completion, its latency, whether it failed,
/// and the calls in flight when it completed.
#[derive(Clone, Debug)]
struct Call {
    gap: u64,
    latency: u64,
    failed: bool,
    in_flight: usize,
}

fn calls(max_in_flight: usize) -> impl Strategy<Value = Vec<Call>> {
    prop::collection::vec(
        (
            0..20 * MS,
            1..200 * MS,
            prop::bool::weighted(0.1),
            0..max_in_flight,
        )
            .prop_map(|(gap, latency, failed, in_flight)| Call {
                gap,
                latency,
                failed,
                in_flight,
            }),
        0..400,
    )
}

fn aimd_config() -> impl Strategy<Value = Aimd> {
    (
        1..20usize,
        0..100usize,
        0.0..1.0f64,
        0.05..0.95f64,
        prop::option::of(1..150u64),
    )
        .prop_map(|(min, span, at, backoff, threshold)| {
            let max = min + span;
            let initial = min + (span as f64 * at) as usize;
            let mut b = Aimd::builder()
                .min_limit(min)
                .max_limit(max)
                .initial_limit(initial)
                .backoff(backoff);
            if let Some(t) = threshold {
                b = b.latency_threshold(Duration::from_millis(t));
            }
            b.build().unwrap()
        })
}

/// Reports `calls` to `controller`, giving each change (and the call that made it) to `check`,
/// and checking that the limit the semaphore is given is the one returned.
fn drive(controller: &Controller, calls: &[Call], mut check: impl FnMut(&Call, Option<Change>)) {
    let mut now = 10_000 * MS;
    for call in calls {
        now += call.gap;
        let mut applied = None;
        let change =
            controller.complete_at(now, now - call.latency, call.failed, call.in_flight, |n| {
                applied = Some(n)
            });
        assert_eq!(applied, change.map(|(_, to)| to));
        check(call, change);
    }
}

/// A plain model of the AIMD controller: the samples of the round kept in a list.
struct AimdModel {
    aimd: Aimd,
    limit: usize,
    round_start: u64,
    in_flight: Vec<usize>,
}

impl AimdModel {
    fn report(&mut self, now: u64, call: &Call) -> Option<Change> {
        let started = now - call.latency;
        if started < self.round_start {
            return None;
        }
        let b = self.aimd.bounds;
        let limit = self.limit;
        let next = if self
            .aimd
            .is_drop(Duration::from_nanos(call.latency), call.failed)
        {
            ((limit as f64 * self.aimd.backoff).floor() as usize).clamp(b.min, b.max)
        } else {
            self.in_flight.push(call.in_flight);
            if self.in_flight.len() < limit {
                return None;
            }
            if self.in_flight.iter().any(|&n| 2 * n >= limit) {
                (limit + 1).min(b.max)
            } else {
                limit
            }
        };
        self.in_flight.clear();
        self.round_start = now;
        (next != limit).then(|| {
            self.limit = next;
            (limit, next)
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn aimd_matches_its_model_stays_in_bounds_and_moves_by_its_rules(
        aimd in aimd_config(),
        calls in calls(150),
    ) {
        let controller = Controller::new(aimd.into());
        let mut model = AimdModel {
            aimd,
            limit: aimd.bounds.initial,
            round_start: 0,
            in_flight: Vec::new(),
        };
        let mut now = 10_000 * MS;
        let mut limit = aimd.bounds.initial;
        drive(&controller, &calls, |call, change| {
            now += call.gap;
            assert_eq!(change, model.report(now, call));
            if let Some((from, to)) = change {
                assert_eq!(from, limit);
                assert!((aimd.bounds.min..=aimd.bounds.max).contains(&to));
                if aimd.is_drop(Duration::from_nanos(call.latency), call.failed) {
                    // Down by the factor (never below the minimum).
                    let expected = ((from as f64 * aimd.backoff).floor() as usize).max(aimd.bounds.min);
                    assert_eq!(to, expected);
                    assert!(to < from);
                } else {
                    // Up by exactly one, at the end of a round.
                    assert_eq!(to, from + 1);
                }
                limit = to;
            }
        });
    }

    #[test]
    fn aimd_grows_at_most_one_per_round_of_limit_calls(
        aimd in aimd_config(),
        calls in calls(150),
    ) {
        let controller = Controller::new(aimd.into());
        let mut since_change = 0usize;
        drive(&controller, &calls, |_, change| {
            since_change += 1;
            if let Some((from, to)) = change {
                if to > from {
                    assert!(since_change >= from, "grew after {since_change} calls at {from}");
                }
                since_change = 0;
            }
        });
    }

    #[test]
    fn vegas_stays_in_bounds_moves_one_step_and_never_grows_on_a_failure(
        (min, span, at) in (1..20usize, 0..300usize, 0.0..1.0f64),
        (alpha, extra) in (0.5..5.0f64, 0.5..5.0f64),
        calls in calls(400),
    ) {
        let vegas = Vegas::builder()
            .min_limit(min)
            .max_limit(min + span)
            .initial_limit(min + (span as f64 * at) as usize)
            .alpha(alpha)
            .beta(alpha + extra)
            .build()
            .unwrap();
        let controller = Controller::new(vegas.into());
        drive(&controller, &calls, |call, change| {
            if let Some((from, to)) = change {
                assert!((min..=min + span).contains(&to));
                let step = ((from as f64).log10().floor() as usize).max(1);
                assert!(to.abs_diff(from) <= step, "{from} -> {to}");
                if call.failed {
                    assert!(to < from);
                }
            }
        });
    }

    #[test]
    fn vegas_only_grows_while_latency_stays_at_its_lowest(
        initial in 1..100usize,
        latency in 1..100 * MS,
        n in 0..2000usize,
    ) {
        let vegas = Vegas::builder().initial_limit(initial).max_limit(1000).build().unwrap();
        let controller = Controller::new(vegas.into());
        let mut limit = initial;
        let calls: Vec<Call> = (0..n)
            .map(|_| Call { gap: latency, latency, failed: false, in_flight: 1000 })
            .collect();
        drive(&controller, &calls, |_, change| {
            if let Some((from, to)) = change {
                assert!(to > from);
                limit = to;
            }
        });
        // One step per round of `limit` calls.
        let (mut expected, mut left) = (initial, n);
        while left >= expected {
            left -= expected;
            expected = (expected + ((expected as f64).log10().floor() as usize).max(1)).min(1000);
        }
        prop_assert_eq!(limit, expected);
    }
}

#[test]
fn aimd_decrease_is_by_the_factor_rounded_down() {
    let aimd = Aimd::builder()
        .max_limit(1000)
        .backoff(0.9)
        .build()
        .unwrap();
    assert_eq!(aimd.decreased(100), 90);
    assert_eq!(aimd.decreased(25), 22);
    assert_eq!(aimd.decreased(1), 1);
    assert_eq!(aimd.decreased(2), 1);
}

#[test]
fn the_mean_of_a_round_without_samples_is_zero() {
    assert_eq!(Round::default().mean(), Duration::ZERO);
    let mut round = Round::default();
    round.add(Duration::from_millis(10), 1);
    round.add(Duration::from_millis(30), 2);
    assert_eq!(round.mean(), Duration::from_millis(20));
    assert_eq!(round.max_in_flight, 2);
}

#[test]
fn debug_shows_the_algorithm_and_the_limit() {
    let aimd = Aimd::builder().initial_limit(7).build().unwrap();
    let controller = Controller::new(aimd.into());
    let debug = format!("{controller:?}");
    assert!(
        debug.starts_with("Controller { algorithm: Aimd("),
        "{debug}"
    );
    assert!(debug.ends_with(", limit: 7 }"), "{debug}");
}

/// One round of calls with a mean latency of `rtt_ms` and at most `in_flight` at once.
fn round_of(rtt_ms: u64, in_flight: usize) -> Round {
    let mut round = Round::default();
    round.add(Duration::from_millis(rtt_ms), in_flight);
    round
}

#[test]
fn vegas_moves_only_outside_its_band_of_queued_calls() {
    // A limit of 100: the band is alpha × 2 ..= beta × 2 calls queued, that is 25 ..= 50, and a
    // step is 2. With a round's latency of 1 s, a no-load latency of 750, 500 and 250 ms puts
    // exactly 25, 50 and 75 calls in the dependency's queue (binary fractions: no rounding).
    let vegas = Vegas::builder()
        .max_limit(1000)
        .alpha(12.5)
        .beta(25.0)
        .build()
        .unwrap();
    let after = |no_load_ms: u64| {
        vegas.after_round(100, &round_of(1000, 100), Duration::from_millis(no_load_ms))
    };
    assert_eq!(after(1000), 102, "nothing queued: grows");
    assert_eq!(after(800), 102, "20 queued, below the band: grows");
    assert_eq!(after(750), 100, "25 queued, the band's lower edge: stays");
    assert_eq!(after(600), 100, "40 queued, inside the band: stays");
    assert_eq!(after(500), 100, "50 queued, the band's upper edge: stays");
    assert_eq!(after(250), 98, "75 queued, above the band: shrinks");
}

#[test]
fn vegas_leaves_a_limit_less_than_half_used_as_it_is() {
    let vegas = Vegas::builder().max_limit(1000).build().unwrap();
    let flat = Duration::from_millis(100);
    // Nothing queued (the latency is the no-load one): a limit of 10 used by five grows by one...
    assert_eq!(vegas.after_round(10, &round_of(100, 5), flat), 11);
    // ...and one used by four, less than half, stays; so does one after a round without samples.
    assert_eq!(vegas.after_round(10, &round_of(100, 4), flat), 10);
    assert_eq!(vegas.after_round(10, &Round::default(), flat), 10);
}
