//! Building a saga definition: steps, parallel groups, deadline, store, listeners.

use super::Definition;
use super::policy::RetryPolicy;
use super::step::{Step, StepDef, StepKey};
use crate::ConfigError;
use crate::event::Listeners;
use crate::saga::events::Event;
use crate::saga::store::{InMemoryStore, SagaStore};
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Builds a [`Saga`](crate::saga::Saga): [`Saga::builder`](crate::saga::Saga::builder) starts one.
///
/// Steps are added with [`step`](Self::step) and [`parallel`](Self::parallel), which take
/// `&mut self` because they hand back the step's [`StepKey`]: a later step captures that key to
/// read the output, so a step can only ever name steps added before it. The other settings are
/// consuming, and [`build`](Self::build) checks everything once.
#[must_use]
pub struct SagaBuilder<I> {
    definition: u64,
    name: &'static str,
    version: u32,
    steps: Vec<StepDef<I>>,
    stages: Vec<(u32, u32)>,
    deadline: Option<Duration>,
    compensation_retry: RetryPolicy,
    store_retry: RetryPolicy,
    store: Option<Arc<dyn SagaStore>>,
    listeners: Listeners<Event>,
    empty_group: bool,
}

impl<I: Send + Sync + 'static> SagaBuilder<I> {
    pub(crate) fn new(name: &'static str) -> Self {
        static DEFINITIONS: AtomicU64 = AtomicU64::new(0);
        Self {
            definition: DEFINITIONS.fetch_add(1, Ordering::Relaxed),
            name,
            version: 1,
            steps: Vec::new(),
            stages: Vec::new(),
            deadline: None,
            compensation_retry: RetryPolicy::compensation_default(),
            store_retry: RetryPolicy::store_default(),
            store: None,
            listeners: Listeners::new(&"saga").named(crate::Name::from(name)),
            empty_group: false,
        }
    }

    fn push<T>(&mut self, step: Step<I, T>) -> StepKey<T> {
        let index = u32::try_from(self.steps.len()).unwrap_or(u32::MAX);
        self.steps.push(step.def);
        StepKey {
            definition: self.definition,
            index,
            _output: PhantomData,
        }
    }

    /// Adds a step that runs after every step added before it.
    pub fn step<T>(&mut self, step: Step<I, T>) -> StepKey<T> {
        let key = self.push(step);
        self.stages.push((key.index, key.index.saturating_add(1)));
        key
    }

    /// Adds a group of steps that run concurrently, after every step added before the group.
    ///
    /// `group` adds the steps with [`Group::step`] and returns what it likes (usually their
    /// keys). Steps of one group cannot read each other's outputs. If one fails, the others are
    /// left to finish (each bounded by its own timeout and the saga's deadline) before the
    /// compensations run; the group's compensations run concurrently too.
    pub fn parallel<R>(&mut self, group: impl FnOnce(&mut Group<'_, I>) -> R) -> R {
        let start = u32::try_from(self.steps.len()).unwrap_or(u32::MAX);
        let out = group(&mut Group { builder: self });
        let end = u32::try_from(self.steps.len()).unwrap_or(u32::MAX);
        if start == end {
            self.empty_group = true;
        } else {
            self.stages.push((start, end));
        }
        out
    }

    /// The definition's version, recorded in each run's log so that a resumed run is matched
    /// with the definition that started it (1 by default).
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// An overall deadline for the steps (none by default): if the steps have not all completed
    /// `deadline` after the run starts, the step in flight is abandoned and the saga
    /// compensates. Compensations are not bound by it.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy of every compensation that does not set its own
    /// ([`RetryPolicy::compensation_default`] by default).
    pub fn compensation_retry(mut self, policy: RetryPolicy) -> Self {
        self.compensation_retry = policy;
        self
    }

    /// How often an append to the store is tried before the run stops
    /// ([`RetryPolicy::store_default`] by default: 3 attempts, 10 ms then 20 ms apart, jittered).
    ///
    /// A store that fails (a locked database, a lost connection) is tried again; one that
    /// refuses (its checks said no) is not. When every attempt fails, the run stops where it is,
    /// starting nothing more, and its caller gets [`SagaError::Unsettled`](crate::saga::SagaError::Unsettled):
    /// recovery finishes the saga from its log.
    pub fn store_retry(mut self, policy: RetryPolicy) -> Self {
        self.store_retry = policy;
        self
    }

    /// Where the runs' logs go ([`InMemoryStore`] by default).
    pub fn store(mut self, store: impl SagaStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Registers a listener for this saga's [`Event`]s.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the definition; [`build`](Self::build) makes the saga of it.
    pub(crate) fn into_definition(self) -> Result<Definition<I>, ConfigError> {
        let err =
            |field: String, reason: &'static str| Err(ConfigError::new("saga", field, reason));
        if self.name.is_empty() {
            return err("name".into(), "must not be empty");
        }
        if self.steps.is_empty() {
            return err("steps".into(), "a saga needs at least one step");
        }
        if self.empty_group {
            return err(
                "parallel".into(),
                "a parallel group needs at least one step",
            );
        }
        if u32::try_from(self.steps.len()).is_err() {
            return err("steps".into(), "too many steps");
        }
        if self.deadline == Some(Duration::ZERO) {
            return err("deadline".into(), "must be greater than zero");
        }
        if let Some(reason) = self.compensation_retry.invalid() {
            return err("compensation_retry".into(), reason);
        }
        if let Some(reason) = self.store_retry.invalid() {
            return err("store_retry".into(), reason);
        }
        let mut names = HashSet::new();
        for step in &self.steps {
            let field = |what: &str| format!("step `{}`: {what}", step.name);
            if step.name.is_empty() {
                return err("step name".into(), "must not be empty");
            }
            if !names.insert(step.name) {
                return err(
                    field("name"),
                    "step names must be unique (they make idempotency keys)",
                );
            }
            if step.timeout == Some(Duration::ZERO) {
                return err(field("timeout"), "must be greater than zero");
            }
            if step.compensation_timeout == Some(Duration::ZERO) {
                return err(field("compensation_timeout"), "must be greater than zero");
            }
            if let Some(reason) = step.retry.invalid() {
                return err(field("retry"), reason);
            }
            if let Some(reason) = step.compensation_retry.as_ref().and_then(|p| p.invalid()) {
                return err(field("compensation_retry"), reason);
            }
        }
        let compensation_retry = self.compensation_retry;
        let steps = self
            .steps
            .into_iter()
            .map(|mut step| {
                step.compensation_retry.get_or_insert(compensation_retry);
                step
            })
            .collect();
        Ok(Definition {
            id: self.definition,
            name: self.name,
            version: self.version,
            steps,
            stages: self.stages.into(),
            deadline: self.deadline,
            store_retry: self.store_retry,
            store: self.store.unwrap_or_else(|| Arc::new(InMemoryStore::new())),
            listeners: self.listeners.finish(),
            counters: Default::default(),
        })
    }
}

impl<I> fmt::Debug for SagaBuilder<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SagaBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("steps", &self.steps)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The steps of one parallel group; see [`SagaBuilder::parallel`].
pub struct Group<'a, I> {
    builder: &'a mut SagaBuilder<I>,
}

impl<I: Send + Sync + 'static> Group<'_, I> {
    /// Adds a step to the group.
    pub fn step<T>(&mut self, step: Step<I, T>) -> StepKey<T> {
        self.builder.push(step)
    }
}

impl<I> fmt::Debug for Group<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}
