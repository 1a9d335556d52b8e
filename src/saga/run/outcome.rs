//! How a run of a saga ended.

use crate::saga::definition::Outputs;
use crate::saga::error::{Compensated, NotCompleted, Parked};
use crate::saga::store::OutcomeKind;

/// How a run of a saga ended.
#[derive(Debug)]
#[must_use]
pub enum Outcome {
    /// Every step completed; here are their outputs.
    Completed(Outputs),
    /// The saga failed (a step failed, it was cancelled, or it ran out of time), and every step
    /// that may have taken effect was undone.
    Compensated(Compensated),
    /// A compensation still failed after its retries: the saga is parked for an operator, with
    /// every error kept.
    Parked(Parked),
}

impl Outcome {
    /// Which of the three it is, as the log records it.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Completed(_) => OutcomeKind::Completed,
            Outcome::Compensated(_) => OutcomeKind::Compensated,
            Outcome::Parked(_) => OutcomeKind::Parked,
        }
    }

    /// The outputs if the saga completed, the failure otherwise.
    pub fn into_result(self) -> Result<Outputs, NotCompleted> {
        match self {
            Outcome::Completed(outputs) => Ok(outputs),
            Outcome::Compensated(c) => Err(NotCompleted::Compensated(Box::new(c))),
            Outcome::Parked(p) => Err(NotCompleted::Parked(Box::new(p))),
        }
    }
}
