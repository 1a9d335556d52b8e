//! A step: a named action, its optional compensation, and their timeouts and retry policies.

use super::context::{CompensationContext, StepContext};
use super::policy::{Resume, RetryPolicy};
use crate::BoxError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What an action produced: the typed value (for later steps) and its JSON (for the log).
pub(crate) struct Produced {
    pub(crate) value: Box<dyn Any + Send + Sync>,
    pub(crate) json: Result<serde_json::Value, serde_json::Error>,
}

/// Rebuilds a step's typed output from the JSON a log kept, for a resumed saga.
pub(crate) type Restore =
    fn(serde_json::Value) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error>;

fn restore<T: DeserializeOwned + Send + Sync + 'static>(
    json: serde_json::Value,
) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error> {
    Ok(Box::new(serde_json::from_value::<T>(json)?))
}

type Action<I> = Box<dyn Fn(StepContext<I>) -> BoxFuture<Result<Produced, BoxError>> + Send + Sync>;
type Compensate<I> =
    Box<dyn Fn(super::context::Frame<I>) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;

/// A typed handle to a step's output, returned when the step is added to a
/// [`SagaBuilder`](crate::saga::SagaBuilder).
///
/// Later steps capture it (it is `Copy`) and read the output with
/// [`StepContext::output`]; [`Outputs::get`](crate::saga::Outputs::get) reads it after the run.
pub struct StepKey<T> {
    pub(crate) definition: u64,
    pub(crate) index: u32,
    pub(crate) _output: PhantomData<fn() -> T>,
}

impl<T> StepKey<T> {
    /// The step's position in the saga, counting from 0 across all groups.
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl<T> Clone for StepKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for StepKey<T> {}

impl<T> fmt::Debug for StepKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepKey")
            .field("index", &self.index)
            .field("output", &std::any::type_name::<T>())
            .finish()
    }
}

/// A step's definition before its type is erased inside the saga.
pub(crate) struct StepDef<I> {
    pub(crate) name: &'static str,
    pub(crate) action: Action<I>,
    pub(crate) compensation: Option<Compensate<I>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) compensation_timeout: Option<Duration>,
    pub(crate) compensation_retry: Option<RetryPolicy>,
    pub(crate) restore: Restore,
    pub(crate) on_resume: Resume,
}

impl<I> fmt::Debug for StepDef<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("compensation", &self.compensation.is_some())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("compensation_timeout", &self.compensation_timeout)
            .field("compensation_retry", &self.compensation_retry)
            .field("on_resume", &self.on_resume)
            .finish()
    }
}

/// One step of a saga, with input type `I` and output type `T`.
///
/// The output must be serializable so that a durable [`SagaStore`](crate::saga::SagaStore) can keep
/// it and hand it back to a resumed saga.
pub struct Step<I, T> {
    pub(crate) def: StepDef<I>,
    _output: PhantomData<fn() -> T>,
}

impl<I, T> Step<I, T>
where
    I: Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A step named `name` (unique within its saga) whose action is `action`.
    ///
    /// The action is called once per attempt with a fresh [`StepContext`]; its error is any
    /// type that converts into a [`BoxError`].
    pub fn new<F, Fut, E>(name: &'static str, action: F) -> Self
    where
        F: Fn(StepContext<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let action: Action<I> = Box::new(move |ctx| {
            let fut = action(ctx);
            Box::pin(async move {
                let value = fut.await.map_err(Into::into)?;
                let json = serde_json::to_value(&value);
                Ok(Produced {
                    value: Box::new(value),
                    json,
                })
            })
        });
        Self {
            def: StepDef {
                name,
                action,
                compensation: None,
                timeout: None,
                retry: RetryPolicy::never(),
                compensation_timeout: None,
                compensation_retry: None,
                restore: restore::<T>,
                on_resume: Resume::Compensate,
            },
            _output: PhantomData,
        }
    }

    /// The step's compensation: what undoes the action.
    ///
    /// It is armed before the action's first attempt starts, and runs if the saga fails later
    /// or if this step's action may have taken effect without completing (a timeout, a panic,
    /// a cancellation): so it must be safe to run when the action did nothing. A step without a
    /// compensation has nothing to undo (a read, say).
    #[must_use]
    pub fn compensate<F, Fut, E>(mut self, compensation: F) -> Self
    where
        F: Fn(CompensationContext<I, T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.def.compensation = Some(Box::new(move |frame| {
            let fut = compensation(CompensationContext {
                frame,
                _output: PhantomData,
            });
            Box::pin(async move { fut.await.map_err(Into::into) })
        }));
        self
    }

    /// Fails an attempt of the action that takes longer than `timeout`; the step's
    /// compensation still runs, since the action may have taken effect.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.def.timeout = Some(timeout);
        self
    }

    /// How often the action is tried (once by default).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.def.retry = policy;
        self
    }

    /// Fails an attempt of the compensation that takes longer than `timeout`.
    #[must_use]
    pub fn compensation_timeout(mut self, timeout: Duration) -> Self {
        self.def.compensation_timeout = Some(timeout);
        self
    }

    /// What a recovering process does if this step's action was in flight when the process
    /// stopped ([`Resume::Compensate`] by default: the action is not run twice).
    ///
    /// [`Resume::Rerun`] declares the action idempotent by its
    /// [idempotency key](StepContext::idempotency_key): recovery runs it again with the same key.
    #[must_use]
    pub fn on_resume(mut self, policy: Resume) -> Self {
        self.def.on_resume = policy;
        self
    }

    /// How often the compensation is tried, instead of the saga's
    /// [`compensation_retry`](crate::saga::SagaBuilder::compensation_retry).
    #[must_use]
    pub fn compensation_retry(mut self, policy: RetryPolicy) -> Self {
        self.def.compensation_retry = Some(policy);
        self
    }
}

impl<I, T> fmt::Debug for Step<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.def.fmt(f)
    }
}
