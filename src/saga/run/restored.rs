//! A run's state rebuilt from its log, and which way the run goes on from there.

use super::engine::Engine;
use super::status::Status;
use crate::saga::error::Cause;
use std::any::Any;
use std::sync::atomic::Ordering;

/// Which way a run goes from where it starts.
pub(crate) enum Plan {
    /// Run the stages from this one on (0 for a fresh run).
    Forward(usize),
    /// Undo what may have taken effect; `turn`: log the turn (not yet in the log).
    Compensate { cause: Cause, turn: bool },
}

/// A log checked against its definition: each step's status, attempts and output, and the plan.
pub(crate) struct Restored {
    pub(crate) status: Vec<Status>,
    pub(crate) attempts: Vec<u32>,
    pub(crate) outputs: Vec<Option<Box<dyn Any + Send + Sync>>>,
    pub(crate) plan: Plan,
}

impl<I: Send + Sync + 'static> Engine<'_, I> {
    /// Loads a restored state into this run; returns which way it goes.
    pub(crate) fn restore(&self, restored: Restored) -> Plan {
        let outputs = &self.run.outputs.slots;
        for (i, output) in restored.outputs.into_iter().enumerate() {
            self.status[i].set(restored.status[i]);
            self.attempts[i].store(restored.attempts[i], Ordering::Relaxed);
            if let (Some(output), Some(slot)) = (output, outputs.get(i)) {
                let _ = slot.set(output);
            }
        }
        restored.plan
    }
}
