//! Running a saga: the run's life from start to outcome, the forward half of it, one attempt,
//! the log written along the way, and each step's status.

pub(crate) mod drive;
pub(crate) mod engine;
pub(crate) mod exec;
pub(crate) mod outcome;
pub(crate) mod record;
pub(crate) mod restored;
pub(crate) mod status;
