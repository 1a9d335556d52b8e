//! The saga's promise as a property: whatever the steps do, the ledger of their effects ends
//! all applied (Completed), net zero (Compensated), or the outcome is parked naming exactly the
//! stuck steps, with nothing undone out of order; and the saga's log, replayed, agrees.
#![cfg(feature = "saga")]

use bulwark::BoxError;
use bulwark::saga::{
    InMemoryStore, Outcome, Phase, Progress, Replay, RetryPolicy, Saga, SagaId, Step, StepContext,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a step's action does on every attempt.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// Applies its effect and succeeds.
    Ok,
    /// Fails on the first attempt without effect, then applies and succeeds.
    FlakyThenOk,
    /// Fails without effect on every attempt.
    Fails,
    /// Applies its effect, then hangs past its timeout (the effect happened, no output).
    AppliesThenHangs,
    /// Hangs past its timeout without effect.
    Hangs,
}

#[derive(Clone, Debug)]
struct Plan {
    /// Runs in the same parallel group as the step before it.
    with_previous: bool,
    action: Action,
    /// How many compensation attempts fail before one succeeds (3 or more: stuck).
    compensation_failures: u32,
}

fn plan() -> impl Strategy<Value = Plan> {
    let action = prop_oneof![
        4 => Just(Action::Ok),
        1 => Just(Action::FlakyThenOk),
        1 => Just(Action::Fails),
        1 => Just(Action::AppliesThenHangs),
        1 => Just(Action::Hangs),
    ];
    let failures = prop_oneof![6 => Just(0u32), 2 => 1u32..3, 1 => Just(3u32)];
    (any::<bool>(), action, failures).prop_map(|(with_previous, action, compensation_failures)| {
        Plan {
            with_previous,
            action,
            compensation_failures,
        }
    })
}

/// The downstream service: effects by idempotency key, deduplicated as a real service would.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<BTreeMap<String, u32>>>);

impl Ledger {
    fn apply(&self, key: String) {
        self.0.lock().unwrap().entry(key).or_insert(1);
    }
    fn undo(&self, key: &str) {
        self.0.lock().unwrap().remove(key);
    }
    fn keys(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().keys().cloned().collect()
    }
}

const NAMES: [&str; 8] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];

fn step(name: &'static str, p: &Plan, ledger: &Ledger) -> Step<u32, u32> {
    let (l1, l2) = (ledger.clone(), ledger.clone());
    let (action, failures) = (p.action, p.compensation_failures);
    Step::new(name, move |ctx: StepContext<u32>| {
        let l = l1.clone();
        async move {
            let key = ctx.idempotency_key().to_string();
            match action {
                Action::Ok => l.apply(key),
                Action::FlakyThenOk if ctx.attempt() == 1 => return Err(BoxError::from("flaky")),
                Action::FlakyThenOk => l.apply(key),
                Action::Fails => return Err(BoxError::from("fails")),
                Action::AppliesThenHangs => {
                    l.apply(key);
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Action::Hangs => tokio::time::sleep(Duration::from_secs(10)).await,
            }
            Ok(ctx.attempt())
        }
    })
    .compensate(move |ctx| {
        let l = l2.clone();
        async move {
            if ctx.attempt() <= failures {
                return Err(BoxError::from("undo failed"));
            }
            l.undo(&ctx.action_key().to_string());
            Ok::<_, BoxError>(())
        }
    })
    .timeout(Duration::from_secs(1))
    .retry(RetryPolicy::fixed(2, Duration::from_millis(10)))
    .compensation_retry(RetryPolicy::fixed(3, Duration::from_millis(10)))
}

/// Stages as lists of step indices, as the builder groups them.
fn stages(plans: &[Plan]) -> Vec<Vec<usize>> {
    let mut stages: Vec<Vec<usize>> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        match stages.last_mut() {
            Some(last) if p.with_previous => last.push(i),
            _ => stages.push(vec![i]),
        }
    }
    stages
}

fn check(plans: Vec<Plan>) -> Result<(), TestCaseError> {
    let ledger = Ledger::default();
    let stages = stages(&plans);
    let store = InMemoryStore::keep_all();
    let mut b = Saga::<u32>::builder("ledger").store(store.clone());
    for stage in &stages {
        if let [one] = stage.as_slice() {
            b.step(step(NAMES[*one], &plans[*one], &ledger));
        } else {
            b.parallel(|g| {
                for &i in stage {
                    g.step(step(NAMES[i], &plans[i], &ledger));
                }
            });
        }
    }
    let saga = b.build().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let outcome = runtime.block_on(saga.run_with_id("case", 0)).unwrap();

    // The log alone tells the same story as the outcome.
    let replay = Replay::from_log(&store.log(&SagaId::new("case"))).unwrap();
    prop_assert_eq!(replay.phase, Phase::Finished(outcome.kind()));
    let left: BTreeSet<&str> = replay
        .to_compensate()
        .iter()
        .map(|i| replay.steps[i].name.as_str())
        .collect();
    match &outcome {
        Outcome::Completed(_) => {
            prop_assert_eq!(replay.steps.len(), plans.len());
            for r in replay.steps.values() {
                prop_assert!(r.action == Progress::Completed && r.output.is_some());
            }
        }
        Outcome::Compensated(_) => prop_assert!(left.is_empty(), "{left:?}"),
        Outcome::Parked(p) => {
            let expected: BTreeSet<&str> = p
                .stuck()
                .iter()
                .map(|s| s.step())
                .chain(p.pending().iter().copied())
                .collect();
            prop_assert_eq!(left, expected);
        }
    }

    // The model: the first stage with a failing step stops the saga; the steps to undo are those
    // of the stages reached whose action may have taken effect; undoing goes stage by stage in
    // reverse and stops after a stage with a stuck compensation.
    let fails = |a: Action| matches!(a, Action::Fails | Action::AppliesThenHangs | Action::Hangs);
    let failing_stage = stages
        .iter()
        .position(|s| s.iter().any(|&i| fails(plans[i].action)));
    let Some(failing_stage) = failing_stage else {
        prop_assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
        let all: BTreeSet<String> = (0..plans.len())
            .map(|i| format!("case/{}", NAMES[i]))
            .collect();
        prop_assert_eq!(ledger.keys(), all);
        return Ok(());
    };
    let to_undo = |stage: &Vec<usize>| -> Vec<usize> {
        stage
            .iter()
            .copied()
            .filter(|&i| !matches!(plans[i].action, Action::Fails))
            .collect()
    };
    let stuck_stage = stages[..=failing_stage].iter().rposition(|s| {
        to_undo(s)
            .iter()
            .any(|&i| plans[i].compensation_failures >= 3)
    });
    match (stuck_stage, outcome) {
        (None, Outcome::Compensated(_)) => {
            prop_assert!(ledger.keys().is_empty(), "{:?}", ledger.keys())
        }
        (Some(at), Outcome::Parked(parked)) => {
            let stuck: BTreeSet<&str> = parked.stuck().iter().map(|s| s.step()).collect();
            let expected: BTreeSet<&str> = to_undo(&stages[at])
                .into_iter()
                .filter(|&i| plans[i].compensation_failures >= 3)
                .map(|i| NAMES[i])
                .collect();
            prop_assert_eq!(&stuck, &expected);
            let pending: BTreeSet<&str> = parked.pending().iter().copied().collect();
            let expected_pending: BTreeSet<&str> = stages[..at]
                .iter()
                .flat_map(to_undo)
                .map(|i| NAMES[i])
                .collect();
            prop_assert_eq!(&pending, &expected_pending);
            // Whatever is still applied is a stuck or a pending step, never one that was undone.
            for key in ledger.keys() {
                let name = key.trim_start_matches("case/");
                prop_assert!(
                    stuck.contains(name) || pending.contains(name),
                    "{key} left applied"
                );
            }
        }
        (expected, outcome) => {
            prop_assert!(false, "model says stuck at {expected:?}, got {outcome:?}")
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ledger_ends_all_applied_or_net_zero_or_parked_naming_the_stuck_steps(
        plans in prop::collection::vec(plan(), 1..=NAMES.len())
    ) {
        check(plans)?;
    }
}
