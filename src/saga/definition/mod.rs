//! What a saga is made of: its steps (with their policies and what they see), and the built
//! definition every run of it reads.

mod builder;
mod context;
mod policy;
mod step;

pub use builder::{Group, SagaBuilder};
pub use context::{CompensationContext, IdempotencyKey, MissingOutput, Outputs, StepContext};
pub(crate) use context::{Frame, RunShared};
pub use policy::{Resume, RetryPolicy};
pub(crate) use step::{BoxFuture, StepDef};
pub use step::{Step, StepKey};

use crate::event::Listeners;
use crate::saga::events::{Counters, Event};
use crate::saga::store::SagaStore;
use std::sync::Arc;
use std::time::Duration;

/// A built saga definition.
pub(crate) struct Definition<I> {
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    pub(crate) version: u32,
    pub(crate) steps: Box<[StepDef<I>]>,
    /// Each stage is a range of step indices that run together; stages run in order.
    pub(crate) stages: Box<[(u32, u32)]>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) store_retry: RetryPolicy,
    pub(crate) store: Arc<dyn SagaStore>,
    pub(crate) listeners: Listeners<Event>,
    pub(crate) counters: Counters,
}
