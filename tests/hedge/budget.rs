//! The budget caps the hedges: a property test against a model of the budget, and the default.

use crate::ms;
use bulwark::hedge::{Event, Hedge};
use bulwark::retry::RetryBudget;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::sleep;

/// Runs `slow` calls in order on the paused clock: a slow call's first attempt takes 2 ms
/// (the delay is 1 ms), its hedge 0 ms. Returns, per call, whether it was hedged.
fn run_calls(ratio: f64, floor: u32, slow: &[bool]) -> (Vec<bool>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // An hour's window: every call of a case is in the first of its ten buckets.
        let budget = RetryBudget::builder()
            .ratio(ratio)
            .min_per_second(floor)
            .window(Duration::from_secs(3_600))
            .build()
            .unwrap();
        let refused = Arc::new(Mutex::new(0u64));
        let r = refused.clone();
        let h = Hedge::builder()
            .delay(ms(1))
            .budget(budget)
            .on_event(move |e| {
                if matches!(e, Event::BudgetExhausted { .. }) {
                    *r.lock().unwrap() += 1;
                }
            })
            .build()
            .unwrap();
        let mut hedged = Vec::new();
        for &is_slow in slow {
            let before = h.metrics().hedges;
            let mut attempt = 0;
            h.run(|| {
                attempt += 1;
                let wait = if is_slow && attempt == 1 {
                    ms(2)
                } else {
                    Duration::ZERO
                };
                async move {
                    sleep(wait).await;
                    Ok::<_, ()>(())
                }
            })
            .await
            .unwrap();
            hedged.push(h.metrics().hedges > before);
        }
        let refused = *refused.lock().unwrap();
        (hedged, refused)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The model: a slow call is hedged exactly when one more hedge keeps the hedges within
    /// `ratio × calls so far + floor × window` (in the budget's integer units), and a call
    /// that answers in time takes nothing.
    #[test]
    fn hedges_stay_within_the_budget_as_the_model_says(
        ratio in prop::sample::select(vec![0.0, 0.1, 0.25, 0.5, 1.0]),
        floor in 0u32..2,
        slow in prop::collection::vec(any::<bool>(), 1..120),
    ) {
        let (hedged, refused) = run_calls(ratio, floor, &slow);
        let unit: u128 = 1_000_000;
        let deposit = (ratio * 1e6).round() as u128;
        let reserve = u128::from(floor) * 3_600 * unit;
        let (mut calls, mut hedges, mut want_refused) = (0u128, 0u128, 0u64);
        for (i, &is_slow) in slow.iter().enumerate() {
            calls += 1;
            let expect = is_slow && (hedges + 1) * unit <= calls * deposit + reserve;
            if expect {
                hedges += 1;
            } else if is_slow {
                want_refused += 1;
            }
            prop_assert_eq!(hedged[i], expect, "call {}", i);
        }
        prop_assert_eq!(refused, want_refused);
        prop_assert!(hedges * unit <= calls * deposit + reserve);
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_budget_allows_a_tenth_of_the_calls_plus_one_per_second() {
    let h = Hedge::builder().delay(ms(1)).build().unwrap();
    // 100 slow calls within one second of the budget's 10 s window: 10 % of them, plus the
    // floor of 1 per second over 10 s.
    for _ in 0..100 {
        let mut attempt = 0;
        h.run(|| {
            attempt += 1;
            let wait = if attempt == 1 { ms(2) } else { Duration::ZERO };
            async move {
                sleep(wait).await;
                Ok::<_, ()>(())
            }
        })
        .await
        .unwrap();
    }
    let m = h.metrics();
    assert_eq!(m.hedges, 10 + 10);
    assert_eq!(m.budget_exhausted, 80);
}
