//! A saga to break, the effects of its steps, and the checks that recovery never contradicts
//! the caller nor runs again what the log shows done: shared by the fault-injection tests and
//! the SQLite contention test.

use super::FaultyStore;
use bulwark::BoxError;
use bulwark::saga::{
    InMemoryStore, LogEntry, Outcome, OutcomeKind, Phase, Progress, Registry, Replay, Resume,
    RetryPolicy, Saga, SagaError, SagaId, SagaStore, Step, StepContext,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The steps: name, stage, resume policy. `b` and `c` run together.
pub(crate) const STEPS: [(&str, usize, Resume); 4] = [
    ("a", 0, Resume::Rerun),
    ("b", 1, Resume::Compensate),
    ("c", 1, Resume::Park),
    ("d", 2, Resume::Rerun),
];

/// What one saga does.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// This step's action fails, without effect, on every attempt.
    pub(crate) fail_at: Option<u32>,
    /// Every compensation fails its first attempt.
    pub(crate) flaky_undo: bool,
    /// `a`'s compensation always fails: the saga parks.
    pub(crate) broken_undo: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Do,
    Undo,
}

/// One effect: (run number, saga, effect, step index).
pub(crate) type Record = (u32, String, Effect, u32);

/// What the steps did, in order.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    pub(crate) run: Arc<AtomicU32>,
    pub(crate) effects: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    fn push(&self, saga: &SagaId, effect: Effect, step: u32) {
        let run = self.run.load(Ordering::SeqCst);
        let saga = saga.to_string();
        self.effects.lock().unwrap().push((run, saga, effect, step));
    }

    pub(crate) fn of(&self, saga: &str) -> Vec<(u32, Effect, u32)> {
        let effects = self.effects.lock().unwrap();
        let mine = effects.iter().filter(|(_, s, _, _)| s == saga);
        mine.map(|&(run, _, effect, step)| (run, effect, step))
            .collect()
    }
}

fn step(index: u32, recorder: &Recorder) -> Step<Plan, u32> {
    let (name, _, policy) = STEPS[index as usize];
    let (r1, r2) = (recorder.clone(), recorder.clone());
    Step::new(name, move |ctx: StepContext<Plan>| {
        let (plan, recorder, id) = (*ctx.input(), r1.clone(), ctx.saga_id().clone());
        async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if plan.fail_at == Some(index) {
                return Err::<u32, BoxError>("refused".into());
            }
            recorder.push(&id, Effect::Do, index);
            Ok(index)
        }
    })
    .compensate(move |ctx| {
        let (plan, recorder, id) = (*ctx.input(), r2.clone(), ctx.saga_id().clone());
        let attempt = ctx.attempt();
        async move {
            if index == 0 && plan.broken_undo {
                return Err::<(), BoxError>("refund service down".into());
            }
            if plan.flaky_undo && attempt == 1 {
                return Err("flaky".into());
            }
            recorder.push(&id, Effect::Undo, index);
            Ok(())
        }
    })
    .on_resume(policy)
}

fn saga(store: impl SagaStore, recorder: &Recorder, store_retry: RetryPolicy) -> Saga<Plan> {
    let mut b = Saga::<Plan>::builder("faults")
        .store(store)
        .store_retry(store_retry)
        .compensation_retry(RetryPolicy::fixed(3, Duration::from_millis(1)));
    b.step(step(0, recorder));
    b.parallel(|g| {
        g.step(step(1, recorder));
        g.step(step(2, recorder));
    });
    b.step(step(3, recorder));
    b.build().unwrap()
}

/// What the caller of a run was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Told {
    Outcome(OutcomeKind),
    /// Nothing was written, nothing ran.
    NotStarted,
    Unsettled,
}

pub(crate) fn told(result: Result<Outcome, SagaError>) -> Result<Told, String> {
    match result {
        Ok(outcome) => Ok(Told::Outcome(outcome.kind())),
        Err(SagaError::Store(_)) => Ok(Told::NotStarted),
        Err(SagaError::Unsettled(_)) => Ok(Told::Unsettled),
        Err(e) => Err(format!("unexpected error: {e}")),
    }
}

/// The stores (one or more handles the runs write through, one recovery uses, one fault-free
/// to read back), the definitions over them, and the effects.
pub(crate) struct Harness {
    reader: Arc<dyn SagaStore>,
    pub(crate) recorder: Recorder,
    sagas: Vec<Saga<Plan>>,
    registry: Registry,
    heal: Box<dyn Fn() + Send + Sync>,
}

impl Harness {
    /// Runs through `runs_on` (the first one unless [`run_on`](Self::run_on) says), recovers
    /// through `recover_on`, reads logs back through `reader`; `heal` makes the stores
    /// fault-free, so that recovery ends.
    pub(crate) fn new(
        reader: Arc<dyn SagaStore>,
        runs_on: Vec<Arc<dyn SagaStore>>,
        recover_on: Arc<dyn SagaStore>,
        store_retry: RetryPolicy,
        heal: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let recorder = Recorder::default();
        let sagas = runs_on
            .into_iter()
            .map(|store| saga(store, &recorder, store_retry))
            .collect();
        let mut registry = Registry::new(recover_on.clone());
        registry
            .register(&saga(recover_on, &recorder, store_retry))
            .unwrap();
        Self {
            reader,
            recorder,
            sagas,
            registry,
            heal: Box::new(heal),
        }
    }

    /// Everything through `store`, and through its fault-free inner store to read back.
    pub(crate) fn faulty(store: &FaultyStore<InMemoryStore>, store_attempts: u32) -> Self {
        let retry = RetryPolicy::fixed(store_attempts, Duration::from_millis(1));
        let faulty: Arc<dyn SagaStore> = Arc::new(store.clone());
        let healer = store.clone();
        Self::new(
            Arc::new(store.inner().clone()),
            vec![faulty.clone()],
            faulty,
            retry,
            move || healer.heal(),
        )
    }

    /// Saga `id`'s log, read back; `None` if the store has none.
    pub(crate) async fn replay(&self, id: &str) -> Option<Replay> {
        let log = self.reader.load(&id.into()).await.unwrap();
        (!log.is_empty()).then(|| Replay::from_log(&log).unwrap())
    }

    /// Runs saga `id` (run 1) on the first store, checking that what the caller is told agrees
    /// with the log.
    pub(crate) async fn run(&self, id: &str, plan: Plan) -> Result<Told, String> {
        self.recorder.run.store(1, Ordering::SeqCst);
        self.run_on(0, id, plan).await
    }

    /// Runs saga `id` on store `which`, checking that what the caller is told agrees with the
    /// log (the run number must be set).
    pub(crate) async fn run_on(&self, which: usize, id: &str, plan: Plan) -> Result<Told, String> {
        let told = told(self.sagas[which].run_with_id(id, plan).await)?;
        let after = self.replay(id).await;
        match (told, &after) {
            (Told::Outcome(kind), Some(r)) if r.phase == Phase::Finished(kind) => {}
            (Told::NotStarted, None) if self.recorder.of(id).is_empty() => {}
            (Told::Unsettled, _) => {}
            _ => return Err(format!("{id}: told {told:?}, the log says {after:?}")),
        }
        Ok(told)
    }

    /// Recovers until no saga is unfinished (healing the store after `rounds` rounds, so that it
    /// ends), checking each round against the log it started from.
    pub(crate) async fn recover(&self, rounds: u32) -> Result<(), String> {
        for round in 2..2 + rounds + 8 {
            if round == 2 + rounds {
                (self.heal)();
            }
            let unfinished = self.reader.list_unfinished().await.unwrap();
            if unfinished.is_empty() {
                return Ok(());
            }
            let mut before = Vec::new();
            for id in unfinished {
                let log = self.replay(id.as_str()).await.unwrap();
                before.push((id, log));
            }
            let mark = self.recorder.effects.lock().unwrap().len();
            self.recorder.run.store(round, Ordering::SeqCst);
            let recovered = self.registry.recover().await.unwrap();
            if !recovered.failed.is_empty() {
                return Err(format!("not resumed: {:?}", recovered.failed));
            }
            let mut ends = Vec::new();
            for run in recovered.resumed {
                let id = run.id().as_str().to_owned();
                ends.push((id, told(run.await)?));
            }
            if let Some(wait) = recovered.held.iter().map(|h| h.expires_in).max() {
                tokio::time::sleep(wait).await;
            }
            let effects = self.recorder.effects.lock().unwrap()[mark..].to_vec();
            for (id, log) in &before {
                let ran: Vec<_> = effects
                    .iter()
                    .filter(|(_, s, _, _)| s == id.as_str())
                    .map(|&(_, _, effect, step)| (effect, step))
                    .collect();
                check_resumed(id.as_str(), log, &ran)?;
            }
            for (id, told) in ends {
                if let Told::Outcome(kind) = told {
                    let phase = self.replay(&id).await.unwrap().phase;
                    if phase != Phase::Finished(kind) {
                        return Err(format!("{id}: resumed run told {kind:?}, log {phase:?}"));
                    }
                }
            }
        }
        Err("recovery did not finish".into())
    }

    /// The checks on one saga once it has ended, given what its caller was told.
    pub(crate) async fn check_end(&self, id: &str, told: Told) -> Result<(), String> {
        let effects = self.recorder.of(id);
        let Some(log) = self.replay(id).await else {
            return match told {
                Told::NotStarted | Told::Unsettled if effects.is_empty() => Ok(()),
                _ => Err(format!("{id}: no log, told {told:?}, effects {effects:?}")),
            };
        };
        let Phase::Finished(end) = log.phase else {
            return Err(format!("{id}: did not end: {:?}", log.phase));
        };
        if let Told::Outcome(kind) = told {
            if kind != end {
                return Err(format!("{id}: told {kind:?}, ended {end:?}"));
            }
            if effects.iter().any(|&(run, _, _)| run > 1) {
                return Err(format!("{id}: told {kind:?}, yet recovery ran {effects:?}"));
            }
        }
        let count = |effect: Effect, step: u32| {
            effects
                .iter()
                .filter(|&&(_, e, s)| (e, s) == (effect, step))
                .count()
        };
        let entries = Entries(self.reader.load(&id.into()).await.unwrap());
        for (index, &(name, _, policy)) in STEPS.iter().enumerate() {
            let i = index as u32;
            let (done, undone) = (count(Effect::Do, i), count(Effect::Undo, i));
            // Nothing ran whose start is not in the log.
            if done > entries.started(i) || undone > entries.undo_started(i) {
                return Err(format!(
                    "{id}/{name}: done {done}, undone {undone}, logged starts {} and {}",
                    entries.started(i),
                    entries.undo_started(i)
                ));
            }
            if policy != Resume::Rerun && done > 1 {
                return Err(format!("{id}/{name} ({policy:?}): done {done} times"));
            }
            if policy == Resume::Park && undone > 1 {
                return Err(format!("{id}/{name} ({policy:?}): undone {undone} times"));
            }
            match end {
                OutcomeKind::Completed if done == 0 || undone > 0 => {
                    return Err(format!(
                        "{id}/{name}: completed, done {done}, undone {undone}"
                    ));
                }
                OutcomeKind::Compensated if done > 0 && undone == 0 => {
                    return Err(format!("{id}/{name}: compensated, done but never undone"));
                }
                _ => {}
            }
        }
        // Nothing is undone out of order: stages last first, across runs.
        let stages: Vec<usize> = effects
            .iter()
            .filter(|(_, e, _)| *e == Effect::Undo)
            .map(|&(_, _, s)| STEPS[s as usize].1)
            .collect();
        if stages.windows(2).any(|w| w[1] > w[0]) {
            return Err(format!("{id}: undone out of order: {effects:?}"));
        }
        Ok(())
    }
}

/// What recovery may run for a saga whose log, when it started, read `log`: an action only
/// going forward, not completed, and if it was in flight only under `Rerun`; a compensation only
/// if not completed, and if it was in flight under `Park`, not at all.
pub(crate) fn check_resumed(id: &str, log: &Replay, ran: &[(Effect, u32)]) -> Result<(), String> {
    for &(effect, step) in ran {
        let (name, _, policy) = STEPS[step as usize];
        let record = log.steps.get(&step);
        let action = record.map_or(Progress::NotStarted, |r| r.action);
        let compensation = record.map_or(Progress::NotStarted, |r| r.compensation);
        let allowed = match effect {
            Effect::Do => {
                log.phase == Phase::Forward
                    && action != Progress::Completed
                    && (action != Progress::InFlight || policy == Resume::Rerun)
            }
            Effect::Undo => {
                compensation != Progress::Completed
                    && (compensation != Progress::InFlight || policy != Resume::Park)
            }
        };
        if !allowed {
            return Err(format!(
                "{id}/{name}: recovery ran {effect:?} from a log at {:?}, action {action:?}, \
                 compensation {compensation:?}",
                log.phase
            ));
        }
    }
    Ok(())
}

/// Counts of the start entries in a saga's log.
struct Entries(Vec<LogEntry>);

impl Entries {
    fn started(&self, index: u32) -> usize {
        let f =
            |e: &&LogEntry| matches!(e, LogEntry::StepStarted { step, .. } if step.index == index);
        self.0.iter().filter(f).count()
    }

    fn undo_started(&self, index: u32) -> usize {
        let f = |e: &&LogEntry| matches!(e, LogEntry::CompensationStarted { step, .. } if step.index == index);
        self.0.iter().filter(f).count()
    }
}
