//! The saga handle, what builds it, and the future of one run.

use super::definition::{Definition, SagaBuilder};
use super::error::SagaError;
use super::events::{Metrics, in_saga_span};
use super::run::drive::{self, Start};
use super::run::outcome::Outcome;
use super::store::{SagaId, SagaStore};
use crate::ConfigError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A saga definition, ready to run: built once, run many times.
///
/// Cheap to clone (an `Arc` inside); clones share the definition, the store and the listeners.
///
/// ```
/// use bulwark::BoxError;
/// use bulwark::saga::{Outcome, Saga, Step, StepContext};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let mut order = Saga::<u32>::builder("place-order");
/// order.step(
///     Step::new("reserve", |ctx: StepContext<u32>| async move {
///         Ok::<_, BoxError>(*ctx.input())
///     })
///     .compensate(|_ctx| async { Ok::<_, BoxError>(()) }),
/// );
/// order.step(Step::new("charge", |_ctx: StepContext<u32>| async {
///     Err::<(), BoxError>("card declined".into())
/// }));
/// let order = order.build()?;
/// // The charge fails: the reservation is undone, and the saga ends compensated.
/// assert!(matches!(order.run(3).await?, Outcome::Compensated(_)));
/// # Ok(())
/// # }
/// ```
pub struct Saga<I> {
    pub(crate) definition: Arc<Definition<I>>,
}

impl<I> Clone for Saga<I> {
    fn clone(&self) -> Self {
        Self {
            definition: self.definition.clone(),
        }
    }
}

impl<I: Send + Sync + 'static> Saga<I> {
    pub(crate) fn from_definition(definition: Definition<I>) -> Self {
        Self {
            definition: Arc::new(definition),
        }
    }

    /// Starts a definition named `name`: the name under which a store records its runs.
    pub fn builder(name: &'static str) -> SagaBuilder<I> {
        SagaBuilder::new(name)
    }
}

impl<I: Send + Sync + 'static> SagaBuilder<I> {
    /// Checks the definition and builds the saga; see [`ConfigError`] for what is rejected
    /// (`field` names the setting, prefixed with its step: ``"step `charge`: timeout"``).
    pub fn build(self) -> Result<Saga<I>, ConfigError> {
        self.into_definition().map(Saga::from_definition)
    }
}

impl<I> Saga<I>
where
    I: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Runs the saga with `input` under a fresh [`SagaId`].
    ///
    /// The run is a task spawned on the current tokio runtime (at once if this is called
    /// inside one, else when the [`Run`] is first polled); the `Run` waits for its [`Outcome`].
    /// Dropping the `Run` cancels the saga: no new step starts, the step in flight is abandoned,
    /// and the compensations run to the end in that task all the same.
    ///
    /// The `Run` resolves to an [`Outcome`] only once that outcome is recorded in the store; if the
    /// store cannot record a transition, the run stops there and resolves to
    /// [`SagaError::Unsettled`](super::SagaError::Unsettled), and recovery finishes the saga.
    pub fn run(&self, input: I) -> Run {
        self.run_with_id(SagaId::generate(), input)
    }

    /// Runs the saga with `input` under the id `id` (an order number, say), which then prefixes
    /// every idempotency key.
    pub fn run_with_id(&self, id: impl Into<SagaId>, input: I) -> Run {
        self.spawn(id.into(), Start::Fresh(input))
    }

    pub(crate) fn spawn(&self, id: SagaId, start: Start<I>) -> Run {
        let (cancel, cancelled) = oneshot::channel();
        let task = drive::drive(self.definition.clone(), id.clone(), start, cancelled);
        let task = in_saga_span(task, self.definition.name, &id);
        let state = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => State::Running(runtime.spawn(task)),
            Err(_) => State::Waiting(Some(Box::pin(task))),
        };
        Run {
            id,
            state,
            cancel: Some(cancel),
        }
    }

    /// The definition's name.
    pub fn name(&self) -> &'static str {
        self.definition.name
    }

    /// The definition's version.
    pub fn version(&self) -> u32 {
        self.definition.version
    }

    /// Counts of this definition's runs (shared by clones). Cheap: five atomic loads.
    pub fn metrics(&self) -> Metrics {
        self.definition.counters.snapshot()
    }

    /// The store the runs' logs go to.
    pub fn store(&self) -> &Arc<dyn SagaStore> {
        &self.definition.store
    }
}

impl<I> fmt::Debug for Saga<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.definition;
        f.debug_struct("Saga")
            .field("name", &d.name)
            .field("version", &d.version)
            .field("steps", &d.steps)
            .field("deadline", &d.deadline)
            .field("store", &d.store)
            .finish()
    }
}

/// One run of a saga: resolves to its [`Outcome`].
///
/// Dropping it before it resolves cancels the saga (see [`Saga::run`]); [`detach`](Self::detach)
/// lets it go on to the end instead.
#[must_use = "dropping a Run cancels the saga (it compensates); use detach to let it run"]
pub struct Run {
    id: SagaId,
    state: State,
    /// Dropped: the saga is cancelled. Sent `()`: detached, never cancelled.
    cancel: Option<oneshot::Sender<()>>,
}

type Task = Pin<Box<dyn Future<Output = Result<Outcome, SagaError>> + Send>>;

enum State {
    /// Not spawned yet: `run` was called outside a runtime.
    Waiting(Option<Task>),
    Running(JoinHandle<Result<Outcome, SagaError>>),
}

impl State {
    /// Spawns a waiting task on the current runtime.
    fn start(&mut self) -> Result<&mut JoinHandle<Result<Outcome, SagaError>>, SagaError> {
        if let State::Waiting(task) = self {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| SagaError::NoRuntime)?;
            let task = task.take().ok_or(SagaError::Aborted)?;
            *self = State::Running(runtime.spawn(task));
        }
        match self {
            State::Running(handle) => Ok(handle),
            State::Waiting(_) => Err(SagaError::Aborted),
        }
    }
}

impl Run {
    /// Lets the saga go on to its end if this `Run` is dropped (a resumed saga goes on as it
    /// would have in the process that started it); it can still be awaited.
    pub(crate) fn keep_going(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            // The task reads a sent value as "never cancel"; it may have finished already.
            let _ = cancel.send(());
        }
    }

    /// The id of this run.
    pub fn id(&self) -> &SagaId {
        &self.id
    }

    /// Lets the saga run to its outcome without anyone waiting for it (the outcome is in the
    /// store's log and in the events). Returns the run's id; fails only if the run was created
    /// outside a runtime and this is still outside one.
    pub fn detach(mut self) -> Result<SagaId, SagaError> {
        self.state.start()?;
        if let Some(cancel) = self.cancel.take() {
            // The task reads a sent value as "never cancel"; it may have finished already.
            let _ = cancel.send(());
        }
        Ok(self.id.clone())
    }
}

impl Future for Run {
    type Output = Result<Outcome, SagaError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = match self.state.start() {
            Ok(task) => task,
            Err(e) => return Poll::Ready(Err(e)),
        };
        Pin::new(task)
            .poll(cx)
            .map(|joined| joined.unwrap_or(Err(SagaError::Aborted)))
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
