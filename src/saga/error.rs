//! The errors a saga keeps: of an attempt, a step, a compensation, a run.

use super::store::{SagaId, StoreError};
use crate::BoxError;
use crate::timeout::Elapsed;
use std::fmt;
use std::time::Duration;

/// A saga that did not complete: [`Outcome::into_result`](super::Outcome::into_result)'s error.
#[derive(Debug, thiserror::Error)]
pub enum NotCompleted {
    /// It was compensated.
    #[error(transparent)]
    Compensated(Box<Compensated>),
    /// It is parked.
    #[error(transparent)]
    Parked(Box<Parked>),
}

/// Why an attempt of an action or a compensation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// It returned this error.
    #[error("returned an error")]
    Failed(#[source] BoxError),
    /// It took longer than its timeout (it may still have taken effect).
    #[error("attempt did not finish in time")]
    TimedOut(#[source] Elapsed),
    /// It panicked (it may have taken effect); the panic message, if it was a string.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The action succeeded but its output could not be serialized for the store.
    #[error("output not serializable")]
    Output(#[source] serde_json::Error),
    /// The saga was cancelled or ran out of time while this attempt was in flight, and it was
    /// abandoned (it may have taken effect).
    #[error("abandoned")]
    Abandoned,
    /// A compensation was in flight when the process stopped, and its step says it must not run
    /// twice ([`Resume::Park`](super::Resume::Park)): it was not run again, and the saga parks
    /// for an operator to find out whether it took effect.
    #[error("in flight when the process stopped; not run twice")]
    InDoubt,
}

impl StepError {
    /// Whether the attempt may have taken effect although it did not complete.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            StepError::TimedOut(_)
                | StepError::Panicked(_)
                | StepError::Output(_)
                | StepError::Abandoned
                | StepError::InDoubt
        )
    }
}

/// An action, or a compensation, that failed on every attempt.
#[derive(Debug, thiserror::Error)]
#[error("{}step `{step}` failed after {} attempt(s)", if *.compensation { "compensation of " } else { "" }, .errors.len() + 1)]
pub struct Failure {
    pub(crate) step: &'static str,
    pub(crate) index: u32,
    /// Whether it is the step's compensation that failed (else its action).
    pub(crate) compensation: bool,
    pub(crate) errors: Vec<StepError>,
    #[source]
    pub(crate) last: StepError,
}

impl Failure {
    /// The step's name.
    pub fn step(&self) -> &'static str {
        self.step
    }

    /// Whether it is the step's compensation that failed, rather than its action.
    pub fn is_compensation(&self) -> bool {
        self.compensation
    }

    /// The last attempt's error (also the [`source`](std::error::Error::source)).
    pub fn error(&self) -> &StepError {
        &self.last
    }

    /// The errors of the earlier attempts, in order (the last one is [`error`](Self::error)).
    pub fn earlier_errors(&self) -> &[StepError] {
        &self.errors
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> usize {
        self.errors.len() + 1
    }
}

/// Why a saga stopped going forward.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// A step failed on every attempt.
    #[error(transparent)]
    Step(Failure),
    /// The saga's overall deadline passed before every step completed.
    #[error("saga deadline of {0:?} exceeded")]
    DeadlineExceeded(Duration),
    /// The caller dropped the saga's [`Run`](super::Run) before it finished.
    #[error("saga cancelled")]
    Cancelled,
    /// The saga was resumed from its log by a [`Registry`](super::Registry) and turned back,
    /// or went on compensating, for this reason (the original errors are text in the log).
    #[error("resumed from the log: {0}")]
    Recovered(String),
}

/// A saga was compensated: why, and which compensations ran.
#[derive(Debug, thiserror::Error)]
#[error("saga `{definition}` ({id}) was compensated")]
pub struct Compensated {
    pub(crate) definition: &'static str,
    pub(crate) id: SagaId,
    #[source]
    pub(crate) cause: Cause,
    pub(crate) compensated: Vec<&'static str>,
}

impl Compensated {
    /// Why the saga stopped going forward (also the [`source`](std::error::Error::source)).
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// The saga run's id.
    pub fn id(&self) -> &SagaId {
        &self.id
    }

    /// The steps whose compensation ran: later steps first (a parallel group's in reverse order
    /// of the steps, although they ran together).
    pub fn compensated(&self) -> &[&'static str] {
        &self.compensated
    }
}

/// A parked saga: a compensation failed on every attempt, and the steps before it were left
/// as they are (compensations run strictly in reverse, so nothing is undone out of order).
///
/// Every error is kept: [`cause`](Self::cause) (why the saga turned back, with its attempts),
/// and each [`stuck`](Self::stuck) compensation with all its attempts. The
/// [`source`](std::error::Error::source) is the first stuck compensation.
#[derive(Debug)]
pub struct Parked {
    pub(crate) definition: &'static str,
    pub(crate) id: SagaId,
    pub(crate) cause: Cause,
    pub(crate) compensated: Vec<&'static str>,
    pub(crate) stuck: Vec<Failure>,
    pub(crate) pending: Vec<&'static str>,
}

impl Parked {
    /// Why the saga stopped going forward.
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// The saga run's id.
    pub fn id(&self) -> &SagaId {
        &self.id
    }

    /// The compensations that gave up; never empty.
    pub fn stuck(&self) -> &[Failure] {
        &self.stuck
    }

    /// The steps whose compensation did run.
    pub fn compensated(&self) -> &[&'static str] {
        &self.compensated
    }

    /// The steps that still need undoing but were not attempted, because they come before a
    /// stuck compensation.
    pub fn pending(&self) -> &[&'static str] {
        &self.pending
    }
}

impl fmt::Display for Parked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<_> = self.stuck.iter().map(|s| s.step).collect();
        write!(
            f,
            "saga `{}` ({}) is parked: compensation stuck for {}",
            self.definition,
            self.id,
            steps.join(", ")
        )
    }
}

impl std::error::Error for Parked {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.stuck
            .first()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A saga could not be run to an outcome at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SagaError {
    /// [`Saga::run`](super::Saga::run) was called outside a tokio runtime.
    #[error("saga run outside a tokio runtime")]
    NoRuntime,
    /// The input could not be serialized for the store; nothing ran.
    #[error("saga input not serializable")]
    Input(#[source] serde_json::Error),
    /// The store could not record the saga's start, and says it wrote nothing: the saga does
    /// not exist, nothing ran and nothing will.
    #[error("saga start not recorded")]
    Store(#[source] StoreError),
    /// The run stopped before an outcome because its store could not record a transition
    /// (or the run lost its claim on the saga): see [`Unsettled`]. Recovery finishes it.
    #[error(transparent)]
    Unsettled(Unsettled),
    /// The orchestrating task stopped (the runtime shut down) before an outcome; the log in
    /// the store says where the saga stood, and recovery finishes it.
    #[error("saga task stopped before an outcome")]
    Aborted,
}

/// A run that stopped short of an outcome because its store could not record a transition
/// (after the saga's [`store_retry`](super::SagaBuilder::store_retry) attempts), or because it
/// lost its claim on the saga to another run.
///
/// The run stopped where it was: it started nothing whose start could not be recorded, and ran
/// nothing after that (a step of the same stage already in flight finished its attempt). So the
/// saga's log says where it stands, and that is where [`Registry::recover`](super::Registry::recover)
/// resumes it, by the usual rules: an action that completed but whose completion could not be
/// recorded is, as the log tells it, in flight, and runs again only if its step says
/// [`Resume::Rerun`](super::Resume::Rerun). The saga's outcome is whatever recovery reaches (it
/// may even be in the log already, if the store failed after writing the `Finished` entry):
/// nothing the caller was told contradicts it, since the caller was told no outcome.
#[derive(Debug, thiserror::Error)]
#[error(
    "saga `{definition}` ({id}) is unsettled: the store did not record `{entry}`; recovery will finish it"
)]
pub struct Unsettled {
    pub(crate) definition: &'static str,
    pub(crate) id: SagaId,
    pub(crate) entry: &'static str,
    #[source]
    pub(crate) error: StoreError,
}

impl Unsettled {
    /// The saga run's id.
    pub fn id(&self) -> &SagaId {
        &self.id
    }

    /// The definition's name.
    pub fn definition(&self) -> &'static str {
        self.definition
    }

    /// The kind of the entry the store did not record ([`LogEntry::kind`](super::LogEntry::kind)),
    /// or `"claim"` if the run lost its claim.
    pub fn entry(&self) -> &'static str {
        self.entry
    }

    /// The store's error (also the [`source`](std::error::Error::source)).
    pub fn error(&self) -> &StoreError {
        &self.error
    }
}

/// `error` and its sources, joined with ": ", for the log.
pub(crate) fn error_text(error: &StepError) -> String {
    chain_text(error)
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
