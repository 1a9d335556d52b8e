use super::*;
use crate::ConfigError;
use proptest::prelude::*;
use std::collections::HashSet;

const MS: Duration = Duration::from_millis(1);

fn ms(delays: impl Iterator<Item = Duration>) -> Vec<u128> {
    delays.map(|d| d.as_millis()).collect()
}

#[test]
fn curves_grow_as_documented_and_stop_at_the_cap() -> Result<(), ConfigError> {
    let constant = Backoff::constant(10 * MS).jitter(Jitter::None).build()?;
    assert_eq!(ms(constant.delays().take(3)), [10, 10, 10]);
    let linear = Backoff::linear(10 * MS)
        .max_delay(35 * MS)
        .jitter(Jitter::None)
        .build()?;
    assert_eq!(ms(linear.delays().take(5)), [10, 20, 30, 35, 35]);
    let exponential = Backoff::exponential(10 * MS)
        .factor(3.0)
        .max_delay(500 * MS)
        .jitter(Jitter::None)
        .build()?;
    assert_eq!(
        ms(exponential.delays().take(6)),
        [10, 30, 90, 270, 500, 500]
    );
    Ok(())
}

#[test]
fn exponential_is_base_times_factor_to_the_n_not_base_to_the_n() -> Result<(), ConfigError> {
    let b = Backoff::exponential(3 * MS).jitter(Jitter::None).build()?;
    assert_eq!(ms(b.delays().take(4)), [3, 6, 12, 24]);
    Ok(())
}

#[test]
fn build_rejects_invalid_settings_naming_the_field() {
    let bad_factor = Backoff::exponential(MS).factor(0.5).build();
    assert_eq!(
        bad_factor.map_err(|e| e.field().to_owned()),
        Err("factor".to_owned())
    );
    let nan_factor = Backoff::exponential(MS).factor(f64::NAN).build();
    assert_eq!(
        nan_factor.map_err(|e| e.field().to_owned()),
        Err("factor".to_owned())
    );
    let factor_on_linear = Backoff::linear(MS).factor(2.0).build();
    assert_eq!(
        factor_on_linear.map_err(|e| e.field().to_owned()),
        Err("factor".to_owned())
    );
    let low_max = Backoff::constant(10 * MS).max_delay(MS).build();
    assert_eq!(
        low_max.map_err(|e| e.field().to_owned()),
        Err("max_delay".to_owned())
    );
    let zero_decorrelated = Backoff::exponential(Duration::ZERO)
        .jitter(Jitter::Decorrelated)
        .build();
    let err = zero_decorrelated.unwrap_err();
    assert_eq!(err.field(), "jitter");
    assert_eq!(
        err.to_string(),
        "invalid backoff setting `jitter`: decorrelated jitter needs a non-zero base delay"
    );
}

#[test]
fn default_cap_is_thirty_seconds_or_the_base_if_larger() -> Result<(), ConfigError> {
    assert_eq!(
        Backoff::exponential(MS).build()?.max_delay(),
        Duration::from_secs(30)
    );
    let long = Duration::from_secs(60);
    assert_eq!(Backoff::constant(long).build()?.max_delay(), long);
    Ok(())
}

#[test]
fn a_seed_makes_every_iterator_yield_the_same_sequence() -> Result<(), ConfigError> {
    let b = Backoff::exponential(10 * MS).seed(7).build()?;
    assert_eq!(ms(b.delays().take(20)), ms(b.delays().take(20)));
    let other = Backoff::exponential(10 * MS).seed(8).build()?;
    assert_ne!(ms(b.delays().take(20)), ms(other.delays().take(20)));
    Ok(())
}

#[test]
fn reset_starts_the_curve_again() -> Result<(), ConfigError> {
    let b = Backoff::exponential(10 * MS).jitter(Jitter::None).build()?;
    let mut delays = b.delays();
    delays.by_ref().take(3).for_each(drop);
    assert_eq!(delays.yielded(), 3);
    delays.reset();
    assert_eq!(delays.next(), Some(10 * MS));
    Ok(())
}

/// Clients at the cap must not fall back into lockstep: the tenth delay of 200 clients (all long
/// past the cap) takes many distinct values, for every kind of jitter.
#[test]
fn jitter_still_spreads_clients_at_the_cap() -> Result<(), ConfigError> {
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let mut at_cap = HashSet::new();
        for seed in 0..200 {
            let b = Backoff::exponential(10 * MS)
                .max_delay(40 * MS)
                .jitter(jitter)
                .seed(seed)
                .build()?;
            let tenth = b.delays().nth(9).unwrap_or_default();
            assert!(tenth <= 40 * MS);
            at_cap.insert(tenth);
        }
        assert!(at_cap.len() > 150, "{jitter:?}: {} distinct", at_cap.len());
    }
    Ok(())
}

#[test]
fn closures_returning_iterators_are_backoffs() {
    let fixed = || [MS, 2 * MS];
    assert_eq!(ms(fixed.delays()), [1, 2]);
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every delay lies within [0, max] for any curve, jitter, seed and attempt (including
    /// attempts far past the point where the curve overflows).
    #[test]
    fn every_delay_is_within_zero_and_max(
        base in 1u64..=u64::MAX,
        extra in 0u64..=u64::MAX,
        curve in 0u8..3,
        factor in 1.0f64..1e6,
        jitter in any_jitter(),
        seed in any::<u64>(),
        skip in prop_oneof![Just(0u32), 0u32..100, Just(u32::MAX - 40)],
    ) {
        let base = Duration::from_nanos(base);
        let max = base.saturating_add(Duration::from_nanos(extra));
        let builder = match curve {
            0 => Backoff::constant(base),
            1 => Backoff::linear(base),
            _ => Backoff::exponential(base).factor(factor),
        };
        let b = builder.max_delay(max).jitter(jitter).seed(seed).build();
        prop_assert!(b.is_ok());
        let b = b.unwrap_or_default();
        let mut delays = b.delays();
        delays.next = skip;
        for d in delays.take(64) {
            prop_assert!(d <= b.max_delay(), "{d:?} > {:?}", b.max_delay());
        }
    }
}

#[test]
fn equal_jitter_keeps_every_delay_between_half_the_curve_and_the_curve() -> Result<(), ConfigError>
{
    for seed in 0..100 {
        let b = Backoff::exponential(100 * MS)
            .max_delay(800 * MS)
            .jitter(Jitter::Equal)
            .seed(seed)
            .build()?;
        for (n, d) in b.delays().take(6).enumerate() {
            let curve = (100 * MS * 2u32.pow(n as u32)).min(800 * MS);
            assert!(
                d >= curve / 2 && d <= curve,
                "seed {seed}, delay {n}: {d:?} for {curve:?}"
            );
        }
    }
    Ok(())
}

/// The first delay of an exponential curve is the base itself, to the nanosecond, however large
/// (not the base through a float, which rounds above 2^53 ns).
#[test]
fn the_first_exponential_delay_is_exactly_the_base() -> Result<(), ConfigError> {
    let base = Duration::from_nanos((1 << 53) + 1);
    let b = Backoff::exponential(base)
        .max_delay(base * 4)
        .jitter(Jitter::None)
        .build()?;
    assert_eq!(b.delays().next(), Some(base));
    Ok(())
}

#[test]
fn delays_say_they_never_end_and_show_their_progress() -> Result<(), ConfigError> {
    let b = Backoff::constant(MS).jitter(Jitter::None).build()?;
    let mut delays = b.delays();
    assert_eq!(delays.size_hint(), (usize::MAX, None));
    delays.next();
    let debug = format!("{delays:?}");
    assert!(
        debug.starts_with("Delays {") && debug.contains("yielded: 1"),
        "{debug}"
    );
    Ok(())
}

#[test]
fn a_backoff_tells_its_base_cap_and_jitter() -> Result<(), ConfigError> {
    let b = Backoff::linear(3 * MS)
        .max_delay(9 * MS)
        .jitter(Jitter::Equal)
        .build()?;
    assert_eq!(
        (b.base_delay(), b.max_delay(), b.jitter()),
        (3 * MS, 9 * MS, Jitter::Equal)
    );
    Ok(())
}
