//! The whole life of one run: log its start (or pick up a resumed one), go forward or
//! compensate, record the outcome.

use super::engine::Engine;
use super::exec::Interrupt;
use super::outcome::Outcome;
use super::record::{self, Stop, StopCell};
use super::restored::{Plan, Restored};
use super::status::{Status, StatusCell};
use crate::saga::definition::{Definition, Outputs, RunShared};
use crate::saga::error::{SagaError, Unsettled, chain_text};
use crate::saga::events::Event;
use crate::saga::store::{Claim, LogEntry, SagaId, StoreError};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use tokio::sync::oneshot;

/// How a run begins: with its input, or from the log of a saga another run started (with the
/// claim the registry took on it).
pub(crate) enum Start<I> {
    Fresh(I),
    Resume(I, Box<Restored>, Claim),
}

/// Runs the saga to its outcome: the body of the task [`Saga::run`](crate::saga::Saga::run) spawns.
///
/// The outcome is returned only once its `Finished` entry is in the log, so the caller is never
/// told an outcome that recovery could contradict; if the log cannot be written, the run stops
/// where it is and says [`SagaError::Unsettled`].
pub(crate) async fn drive<I>(
    def: Arc<Definition<I>>,
    id: SagaId,
    start: Start<I>,
    cancel: oneshot::Receiver<()>,
) -> Result<Outcome, SagaError>
where
    I: Serialize + Send + Sync + 'static,
{
    let (input, restored, claim) = match start {
        Start::Fresh(input) => {
            let json = serde_json::to_value(&input).map_err(SagaError::Input)?;
            let started = LogEntry::Started {
                definition: Cow::Borrowed(def.name),
                version: def.version,
                input: json,
            };
            let claim = Claim::new();
            let appended =
                record::append(&*def.store, &def.store_retry, &id, &started, &claim).await;
            if let Err(failed) = appended {
                if !failed.maybe_written {
                    // Nothing was written: the saga does not exist, nothing runs.
                    return Err(SagaError::Store(failed.error));
                }
                let stop = Stop {
                    entry: started.kind(),
                    error: failed.error,
                };
                return Err(unsettled(&def, &id, &claim, stop).await);
            }
            // A store that numbers holds gives the first one, installed by `Started`, 1.
            let claim = if def.store.fences() {
                claim.with_fence(1)
            } else {
                claim
            };
            (input, None, claim)
        }
        Start::Resume(input, restored, claim) => (input, Some(restored), claim),
    };
    def.counters.started();
    def.listeners.emit(|name| match restored {
        None => Event::SagaStarted {
            name,
            saga: id.clone(),
        },
        Some(_) => Event::SagaResumed {
            name,
            saga: id.clone(),
        },
    });
    let run = Arc::new(RunShared {
        id,
        input,
        outputs: Outputs::new(def.id, def.steps.len()),
        fence: claim.fence(),
    });
    let engine = Engine {
        def: &def,
        run: &run,
        status: def
            .steps
            .iter()
            .map(|_| StatusCell::new(Status::NotStarted))
            .collect(),
        attempts: def.steps.iter().map(|_| AtomicU32::new(0)).collect(),
        claim: &claim,
        stop: StopCell::default(),
    };
    let mut interrupt = Interrupt::new(cancel, def.deadline);
    let plan = restored.map_or(Plan::Forward(0), |r| engine.restore(*r));
    let ended = engine
        .renewing(async {
            let outcome = match plan {
                Plan::Forward(stage) => engine.forward(stage, &mut interrupt).await?,
                Plan::Compensate { cause, turn } => {
                    engine.compensate(def.stages.len(), cause, turn).await?
                }
            };
            let kind = outcome.kind();
            engine.record(LogEntry::Finished { outcome: kind }).await?;
            Ok(outcome)
        })
        .await;
    match ended {
        Ok(outcome) => {
            let kind = outcome.kind();
            def.counters.finished(kind);
            def.listeners.emit(|name| Event::Finished {
                name,
                saga: run.id.clone(),
                outcome: kind,
            });
            Ok(outcome)
        }
        Err(record::Stopped) => {
            let stop = engine.stop.take().unwrap_or_else(|| Stop {
                entry: "finished",
                error: StoreError::new("the run stopped"),
            });
            def.counters.unsettled();
            Err(unsettled(&def, &run.id, &claim, stop).await)
        }
    }
}

/// The run stopped short of a recorded outcome: says so, and gives up the claim (if the store
/// takes it) so that recovery need not wait for it to expire.
async fn unsettled<I>(def: &Definition<I>, id: &SagaId, claim: &Claim, stop: Stop) -> SagaError {
    let unsettled = Unsettled {
        definition: def.name,
        id: id.clone(),
        entry: stop.entry,
        error: stop.error,
    };
    def.listeners.emit(|name| Event::Unsettled {
        name,
        saga: id.clone(),
        error: chain_text(&unsettled),
    });
    let _ = def.store.release(id, claim).await;
    SagaError::Unsettled(unsettled)
}
