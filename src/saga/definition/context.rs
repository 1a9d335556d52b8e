//! What a step's action and compensation see: the input, earlier outputs, their idempotency key.

use super::step::StepKey;
use crate::saga::store::SagaId;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

/// A step's output, type-erased in its slot.
pub(crate) type Slot = OnceLock<Box<dyn Any + Send + Sync>>;

/// The outputs of one run of a saga, one slot per step, each written once when its step completes.
///
/// [`Outcome::Completed`](crate::saga::Outcome::Completed) hands them back; read them with the
/// [`StepKey`]s the builder returned. Cheap to clone.
#[derive(Clone)]
pub struct Outputs {
    pub(crate) definition: u64,
    pub(crate) slots: Arc<[Slot]>,
}

impl Outputs {
    pub(crate) fn new(definition: u64, steps: usize) -> Self {
        Self {
            definition,
            slots: (0..steps).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The output of step `key`, if that step belongs to this saga and has completed.
    pub fn get<T: 'static>(&self, key: &StepKey<T>) -> Option<&T> {
        if key.definition != self.definition {
            return None;
        }
        self.slots
            .get(key.index as usize)?
            .get()?
            .downcast_ref::<T>()
    }
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.slots.iter().filter(|s| s.get().is_some()).count();
        write!(f, "Outputs({done} of {} steps)", self.slots.len())
    }
}

/// What one run shares with every step context: its id, its input and its outputs.
pub(crate) struct RunShared<I> {
    pub(crate) id: SagaId,
    pub(crate) input: I,
    pub(crate) outputs: Outputs,
    /// The run's claim's fencing number, if the store numbers holds.
    pub(crate) fence: Option<u64>,
}

/// The position of one invocation: which step, which attempt, which earlier outputs it may read.
pub(crate) struct Frame<I> {
    pub(crate) run: Arc<RunShared<I>>,
    pub(crate) index: u32,
    pub(crate) name: &'static str,
    pub(crate) attempt: u32,
    /// Steps before this index (the first step of this step's stage) are readable.
    pub(crate) visible: u32,
}

impl<I> Frame<I> {
    fn output<T: 'static>(&self, key: &StepKey<T>) -> Result<&T, MissingOutput> {
        let outputs = &self.run.outputs;
        let missing = |reason| MissingOutput {
            step: self.name,
            wanted: key.index,
            reason,
        };
        if key.definition != outputs.definition {
            return Err(missing("the key belongs to another saga definition"));
        }
        if key.index >= self.visible {
            return Err(missing(
                "that step runs later or in the same parallel group",
            ));
        }
        outputs
            .get(key)
            .ok_or_else(|| missing("that step did not complete"))
    }
}

/// What a step's action gets: the saga's input, the outputs of earlier steps and its
/// idempotency key. Owned, so the action's future can be `'static`.
pub struct StepContext<I> {
    pub(crate) frame: Frame<I>,
}

impl<I> StepContext<I> {
    /// The saga's input.
    pub fn input(&self) -> &I {
        &self.frame.run.input
    }

    /// The output of an earlier step.
    ///
    /// Fails only if `key` is not an earlier step of this saga: a step of the same parallel group
    /// (whose output does not exist yet) or a key from another definition.
    pub fn output<T: 'static>(&self, key: &StepKey<T>) -> Result<&T, MissingOutput> {
        self.frame.output(key)
    }

    /// The id of this run of the saga.
    pub fn saga_id(&self) -> &SagaId {
        &self.frame.run.id
    }

    /// This step's name.
    pub fn step_name(&self) -> &'static str {
        self.frame.name
    }

    /// This attempt, from 1.
    pub fn attempt(&self) -> u32 {
        self.frame.attempt
    }

    /// The fencing number of this run's hold on the saga, if the store numbers holds (see
    /// [`Claim::fence`](crate::saga::Claim::fence)): 1 for the run that started the saga, greater for
    /// each run that took it over since. Send it with the idempotency key, and a service that
    /// remembers the greatest number it has seen for the saga can refuse a request from a run
    /// that stalled past its claim's expiry and was taken over.
    pub fn fence(&self) -> Option<u64> {
        self.frame.run.fence
    }

    /// `"{saga id}/{step name}"`: the same for every attempt, so a downstream service can
    /// deduplicate a retried request.
    pub fn idempotency_key(&self) -> IdempotencyKey<'_> {
        IdempotencyKey {
            saga: &self.frame.run.id,
            step: self.frame.name,
            compensation: false,
        }
    }
}

impl<I> fmt::Debug for StepContext<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepContext")
            .field("saga_id", self.saga_id())
            .field("step", &self.frame.name)
            .field("attempt", &self.frame.attempt)
            .finish_non_exhaustive()
    }
}

/// What a step's compensation gets: the step's own output if its action completed, the
/// saga's input, earlier outputs, and the idempotency keys of the action and of the compensation.
///
/// The output is `None` when the action may have taken effect without reporting it (it timed
/// out, panicked or was abandoned on cancellation): the compensation then undoes by the action's
/// idempotency key ([`action_key`](Self::action_key)), or finds there is nothing to undo.
pub struct CompensationContext<I, T> {
    pub(crate) frame: Frame<I>,
    pub(crate) _output: PhantomData<fn() -> T>,
}

impl<I, T: 'static> CompensationContext<I, T> {
    /// The output of the step being undone, if its action completed.
    pub fn output(&self) -> Option<&T> {
        let outputs = &self.frame.run.outputs;
        outputs
            .slots
            .get(self.frame.index as usize)?
            .get()?
            .downcast_ref()
    }

    /// The output of an earlier step; see [`StepContext::output`].
    pub fn output_of<U: 'static>(&self, key: &StepKey<U>) -> Result<&U, MissingOutput> {
        self.frame.output(key)
    }

    /// The saga's input.
    pub fn input(&self) -> &I {
        &self.frame.run.input
    }

    /// The id of this run of the saga.
    pub fn saga_id(&self) -> &SagaId {
        &self.frame.run.id
    }

    /// The name of the step being undone.
    pub fn step_name(&self) -> &'static str {
        self.frame.name
    }

    /// This attempt of the compensation, from 1.
    pub fn attempt(&self) -> u32 {
        self.frame.attempt
    }

    /// The fencing number of this run's hold on the saga; see [`StepContext::fence`].
    pub fn fence(&self) -> Option<u64> {
        self.frame.run.fence
    }

    /// The idempotency key the step's action had: `"{saga id}/{step name}"`.
    pub fn action_key(&self) -> IdempotencyKey<'_> {
        IdempotencyKey {
            saga: &self.frame.run.id,
            step: self.frame.name,
            compensation: false,
        }
    }

    /// The compensation's own key, `"{saga id}/{step name}/compensate"`, the same for every
    /// attempt.
    pub fn idempotency_key(&self) -> IdempotencyKey<'_> {
        IdempotencyKey {
            saga: &self.frame.run.id,
            step: self.frame.name,
            compensation: true,
        }
    }
}

impl<I, T> fmt::Debug for CompensationContext<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompensationContext")
            .field("saga_id", &self.frame.run.id)
            .field("step", &self.frame.name)
            .field("attempt", &self.frame.attempt)
            .finish_non_exhaustive()
    }
}

/// An idempotency key: saga id and step name, the same across attempts. Formats without
/// allocating; `to_string()` gives the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey<'a> {
    saga: &'a SagaId,
    step: &'static str,
    compensation: bool,
}

impl fmt::Display for IdempotencyKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.saga, self.step)?;
        if self.compensation {
            f.write_str("/compensate")?;
        }
        Ok(())
    }
}

/// A step asked for an output it cannot see.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}` cannot read the output of step #{wanted}: {reason}")]
pub struct MissingOutput {
    step: &'static str,
    wanted: u32,
    reason: &'static str,
}
