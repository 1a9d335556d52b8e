//! The whole life of one run: log its start (or pick up a resumed one), go forward or
//! compensate, record the outcome.

use super::context::{Outputs, RunShared};
use super::engine::{Engine, status};
use super::event::Event;
use super::exec::Interrupt;
use super::outcome::{Outcome, SagaError};
use super::resume::{Plan, Restored};
use super::run::Definition;
use super::store::{LogEntry, SagaId};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32};
use tokio::sync::oneshot;

/// How a run begins: with its input, or from the log of a saga another process started.
pub(crate) enum Start<I> {
    Fresh(I),
    Resume(I, Restored),
}

/// Runs the saga to its outcome: the body of the task [`Saga::run`](super::Saga::run) spawns.
pub(crate) async fn drive<I>(
    def: Arc<Definition<I>>,
    id: SagaId,
    start: Start<I>,
    cancel: oneshot::Receiver<()>,
) -> Result<Outcome, SagaError>
where
    I: Serialize + Send + Sync + 'static,
{
    let (input, restored) = match start {
        Start::Fresh(input) => {
            let json = serde_json::to_value(&input).map_err(SagaError::Input)?;
            let started = LogEntry::Started {
                definition: Cow::Borrowed(def.name),
                version: def.version,
                input: json,
            };
            def.store
                .append(&id, started)
                .await
                .map_err(SagaError::Store)?;
            (input, None)
        }
        Start::Resume(input, restored) => (input, Some(restored)),
    };
    def.counters.started();
    def.listeners.emit(|| match restored {
        None => Event::SagaStarted {
            definition: def.name,
            saga: id.clone(),
        },
        Some(_) => Event::SagaResumed {
            definition: def.name,
            saga: id.clone(),
        },
    });
    let run = Arc::new(RunShared {
        id,
        input,
        outputs: Outputs::new(def.id, def.steps.len()),
    });
    let engine = Engine {
        def: &def,
        run: &run,
        status: def
            .steps
            .iter()
            .map(|_| AtomicU8::new(status::NOT_STARTED))
            .collect(),
        attempts: def.steps.iter().map(|_| AtomicU32::new(0)).collect(),
    };
    let mut interrupt = Interrupt::new(cancel, def.deadline);
    let outcome = match restored.map_or(Plan::Forward(0), |r| engine.restore(r)) {
        Plan::Forward(stage) => engine.forward(stage, &mut interrupt).await,
        Plan::Compensate { cause, turn } => engine.compensate(def.stages.len(), cause, turn).await,
    };
    let kind = outcome.kind();
    def.counters.finished(kind);
    // The outcome stands even if it cannot be recorded: the log then reads as unfinished and a
    // recovering process replays it, which idempotent steps and compensations make harmless.
    let _ = def
        .store
        .append(&run.id, LogEntry::Finished { outcome: kind })
        .await;
    def.listeners.emit(|| Event::Finished {
        definition: def.name,
        saga: run.id.clone(),
        outcome: kind,
    });
    Ok(outcome)
}
