use super::*;
use proptest::prelude::*;

const SECOND: Duration = Duration::from_secs(1);

fn budget(ratio: f64, min_per_second: u32, window: Duration) -> RetryBudget {
    RetryBudget::builder()
        .ratio(ratio)
        .min_per_second(min_per_second)
        .window(window)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Retries granted after `requests` requests at one instant, asking until refused.
fn granted(b: &RetryBudget, requests: u32, now: Instant) -> u32 {
    for _ in 0..requests {
        b.deposit(now);
    }
    let mut n = 0;
    while b.try_withdraw(now) {
        n += 1;
    }
    n
}

#[test]
fn fractional_ratios_are_exact() {
    let t0 = Instant::now();
    // tower's budget allows 33 retries here (tower-rs/tower#857).
    assert_eq!(granted(&budget(0.3, 0, 10 * SECOND), 100, t0), 30);
    assert_eq!(granted(&budget(0.125, 0, 10 * SECOND), 8, t0), 1);
    assert_eq!(granted(&budget(0.125, 0, 10 * SECOND), 7, t0), 0);
    assert_eq!(granted(&budget(0.001, 0, 10 * SECOND), 1000, t0), 1);
    assert_eq!(granted(&budget(0.001, 0, 10 * SECOND), 999, t0), 0);
    assert_eq!(
        granted(&budget(0.333333, 0, 10 * SECOND), 30_000, t0),
        9_999
    );
}

#[test]
fn the_floor_allows_min_per_second_over_the_window_without_requests() {
    let t0 = Instant::now();
    assert_eq!(granted(&budget(0.2, 3, 10 * SECOND), 0, t0), 30);
    assert_eq!(granted(&budget(0.0, 0, 10 * SECOND), 100, t0), 0);
}

#[test]
fn clones_share_one_budget() {
    let t0 = Instant::now();
    let a = budget(0.5, 0, 10 * SECOND);
    let b = a.clone();
    a.deposit(t0);
    a.deposit(t0);
    assert!(b.try_withdraw(t0));
    assert!(!a.try_withdraw(t0));
}

#[test]
fn requests_and_retries_expire_after_the_window() {
    let b = budget(1.0, 0, 10 * SECOND);
    let t0 = b.state.start;
    b.deposit(t0);
    assert!(b.try_withdraw(t0 + 5 * SECOND));
    assert!(!b.try_withdraw(t0 + 5 * SECOND));
    // By t0 + 10 s the request of bucket 0 has expired; the one of bucket 9 funds one retry, which
    // the retry of bucket 5 still holds.
    b.deposit(t0 + 9 * SECOND);
    assert!(!b.try_withdraw(t0 + 10 * SECOND));
    // The retry of bucket 5 expires at t0 + 15 s, and the request of bucket 9 still counts.
    assert!(b.try_withdraw(t0 + 15 * SECOND));
}

#[test]
fn build_rejects_invalid_settings_naming_the_field() {
    let field = |b: RetryBudgetBuilder| b.build().map(drop).map_err(|e| e.field().to_owned());
    for nonsense in [-0.1, 1.000_001, 20.0, 60.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            field(RetryBudget::builder().ratio(nonsense)),
            Err("ratio".to_owned()),
            "{nonsense}"
        );
    }
    assert_eq!(
        field(RetryBudget::builder().window(Duration::ZERO)),
        Err("window".to_owned())
    );
    for fine in [0.0, 0.6, 1.0] {
        assert_eq!(field(RetryBudget::builder().ratio(fine)), Ok(()), "{fine}");
    }
}

#[test]
fn a_ratio_of_point_six_allows_sixty_retries_per_hundred_requests() {
    let t0 = Instant::now();
    assert_eq!(granted(&budget(0.6, 0, 10 * SECOND), 100, t0), 60);
    let err = RetryBudget::builder().ratio(60.0).build().unwrap_err();
    assert!(err.to_string().contains("`ratio`"), "{err}");
}

#[test]
fn concurrent_withdrawals_never_exceed_the_budget() {
    let b = budget(0.5, 0, 10 * SECOND);
    let now = b.state.start;
    for _ in 0..100 {
        b.deposit(now);
    }
    let granted: u32 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..1_000).filter(|_| b.try_withdraw(now)).count() as u32))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    assert!(granted <= 50, "granted {granted}");
    assert!(granted > 0);
    assert_eq!(b.state.metrics(now).retries, u64::from(granted));
}

#[derive(Clone, Debug)]
enum Op {
    Request,
    Retry,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Against a model that keeps every event: whenever a retry is allowed, the retries of the
    /// window (that one included) are at most ratio × the requests of the window plus the floor,
    /// and the budget grants exactly what that bound allows (it is not more conservative than it
    /// says). Counts are checked after every operation. (A retry may outlive the requests that
    /// funded it by up to a window; it is the grant that is bounded.)
    #[test]
    fn never_allows_more_than_ratio_plus_floor_over_the_window(
        // Ratios with six decimals, from 0 to 1.
        millionths in 0u32..=1_000_000,
        min_per_second in 0u32..4,
        window_ms in 10u64..20_000,
        ops in prop::collection::vec((0u64..2_000, prop_oneof![Just(Op::Request), Just(Op::Retry)]), 1..300),
    ) {
        let ratio = f64::from(millionths) / 1_000_000.0;
        let window = Duration::from_millis(window_ms);
        let b = budget(ratio, min_per_second, window);
        let t0 = b.state.start;
        let bucket = window.as_nanos() / BUCKETS as u128;
        let reserve = u128::from(min_per_second) * window.as_nanos() / 1_000;
        let mut now = t0;
        let mut log: Vec<(u128, bool)> = Vec::new(); // (epoch, is_retry)
        for (advance_ms, op) in ops {
            now += Duration::from_millis(advance_ms);
            let epoch = (now - t0).as_nanos() / bucket;
            let live = |e: u128| e + BUCKETS as u128 > epoch;
            let requests = log.iter().filter(|(e, r)| !r && live(*e)).count() as u128;
            let retries = log.iter().filter(|(e, r)| *r && live(*e)).count() as u128;
            match op {
                Op::Request => {
                    b.deposit(now);
                    log.push((epoch, false));
                }
                Op::Retry => {
                    let allowed = (retries + 1) * UNIT <= requests * u128::from(millionths) + reserve;
                    prop_assert_eq!(b.try_withdraw(now), allowed);
                    if allowed {
                        log.push((epoch, true));
                        // At the moment a retry is allowed, the window's retries, this one
                        // included, are within ratio × the window's requests plus the floor.
                        prop_assert!((retries + 1) * UNIT <= requests * u128::from(millionths) + reserve);
                    }
                }
            }
            let requests = log.iter().filter(|(e, r)| !r && live(*e)).count() as u128;
            let retries = log.iter().filter(|(e, r)| *r && live(*e)).count() as u128;
            let m = b.state.metrics(now);
            prop_assert_eq!((u128::from(m.requests), u128::from(m.retries)), (requests, retries));
        }
    }
}

/// Deposits from threads land in different stripes; the total is still exact.
#[test]
fn deposits_from_many_threads_add_up_exactly() {
    let b = RetryBudget::builder()
        .window(Duration::from_secs(3600))
        .build()
        .unwrap();
    let now = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    b.deposit(now);
                }
            });
        }
    });
    let m = b.metrics();
    assert_eq!(m.requests, 80_000);
    // 20 % of them, plus the floor of 10 per second over the hour.
    assert_eq!(m.available, 16_000 + 36_000);
}

/// Threads take stripes in turn, however many threads there are: the 65th and later (a stripe
/// index past the eight would panic) deposit like the first.
#[test]
fn more_threads_than_stripes_each_deposit_once() {
    let b = budget(0.5, 0, 10 * SECOND);
    let now = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..(8 * STRIPES + 8) {
            s.spawn(|| b.deposit(now));
        }
    });
    assert_eq!(b.state.metrics(now).requests, 8 * STRIPES as u64 + 8);
}

/// Each thread caches the bounds of the last bucket it computed; a budget with other bounds used
/// on the same thread in between (another start and bucket length) does not take them for its own.
#[test]
fn budgets_used_in_turn_on_one_thread_keep_their_own_buckets() {
    let long = budget(0.5, 0, 10 * SECOND); // buckets of 1 s
    let short = budget(0.5, 0, SECOND); // buckets of 100 ms
    let ms = Duration::from_millis;
    long.deposit(long.state.start + ms(500)); // caches long's epoch 0, [0 s, 1 s)
    short.deposit(short.state.start + ms(500)); // short's epoch 5, not long's 0
    long.deposit(long.state.start + ms(600));
    // short's request of epoch 5 is live until epoch 15 (1.5 s), not until 1.0 s.
    assert_eq!(
        short.state.metrics(short.state.start + ms(1_200)).requests,
        1
    );
    assert_eq!(
        short.state.metrics(short.state.start + ms(1_499)).requests,
        1
    );
    assert_eq!(
        short.state.metrics(short.state.start + ms(1_500)).requests,
        0
    );
    assert_eq!(long.state.metrics(long.state.start + ms(9_999)).requests, 2);
    assert_eq!(
        long.state.metrics(long.state.start + ms(10_000)).requests,
        0
    );
}

/// A reading before the cached bucket (a clock read earlier on another thread, or before the
/// budget's start) is computed, not given the cached epoch.
#[test]
fn a_reading_before_the_cached_bucket_is_computed() {
    let b = budget(0.5, 0, 10 * SECOND);
    let t0 = b.state.start;
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(2_500)), 2);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(1_999)), 1);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(2_000)), 2);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(3_000)), 3);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(2_999)), 2);
    // Far before it, in the first bucket: the cached bounds are the bucket's own, not the
    // window's start.
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(500)), 0);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(9_000)), 9);
    assert_eq!(b.state.epoch_at(t0 + Duration::from_millis(500)), 0);
    if let Some(before) = t0.checked_sub(Duration::from_secs(5)) {
        assert_eq!(b.state.epoch_at(before), 0);
    }
}
