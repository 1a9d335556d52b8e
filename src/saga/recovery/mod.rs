//! Finding a saga's state in its log, and resuming the unfinished ones after a crash.

mod recovery_error;
mod registry;
mod replay;
mod resume;
mod takeover;

pub use recovery_error::RecoveryError;
pub use registry::{HeldSaga, ParkedSaga, ParkedSagas, Recovered, Registry};
pub use replay::{Phase, Progress, Replay, ReplayError, StepRecord};
pub use takeover::{Takeover, TakeoverMetrics};
