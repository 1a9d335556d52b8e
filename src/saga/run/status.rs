//! Where each step of a run stands.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a step stands. The compensation of a step that [may have taken
/// effect](Self::may_have_taken_effect) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Status {
    NotStarted,
    Running,
    Waiting,
    WaitingMaybe,
    Completed,
    Failed,
    FailedMaybe,
    /// Resumed from a log that shows its compensation completed: nothing left to undo.
    Undone,
    /// Resumed from a log that shows its compensation in flight, and the step says it must not
    /// run twice ([`Resume::Park`](crate::saga::Resume::Park)): the saga parks on it.
    UndoInDoubt,
    /// Its attempt's start is being recorded: if the run is interrupted now, the store may
    /// have the start (and a replay would say in flight), so it counts as possibly applied.
    Starting,
}

impl Status {
    const ALL: [Status; 10] = [
        Status::NotStarted,
        Status::Running,
        Status::Waiting,
        Status::WaitingMaybe,
        Status::Completed,
        Status::Failed,
        Status::FailedMaybe,
        Status::Undone,
        Status::UndoInDoubt,
        Status::Starting,
    ];

    /// Whether the step's action may have taken effect: running, starting, waiting after an
    /// attempt of unknown outcome, completed, failed after one, or its undo in doubt.
    pub(crate) fn may_have_taken_effect(self) -> bool {
        matches!(
            self,
            Status::Running
                | Status::Starting
                | Status::WaitingMaybe
                | Status::Completed
                | Status::FailedMaybe
                | Status::UndoInDoubt
        )
    }
}

/// A step's [`Status`], shared by the tasks of one run.
#[derive(Debug)]
pub(crate) struct StatusCell(AtomicU8);

impl StatusCell {
    pub(crate) fn new(status: Status) -> Self {
        Self(AtomicU8::new(status as u8))
    }

    pub(crate) fn get(&self) -> Status {
        let raw = self.0.load(Ordering::Relaxed);
        // Only `set` writes the cell, always with a `Status`.
        Status::ALL
            .get(usize::from(raw))
            .copied()
            .unwrap_or(Status::NotStarted)
    }

    pub(crate) fn set(&self, status: Status) {
        self.0.store(status as u8, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::{Status, StatusCell};

    #[test]
    fn a_cell_reads_back_every_status_it_is_set_to() {
        let cell = StatusCell::new(Status::NotStarted);
        for status in Status::ALL {
            cell.set(status);
            assert_eq!(cell.get(), status);
        }
    }
}
