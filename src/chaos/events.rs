//! What a fault injector reports to its listeners.

use super::Fault;
use crate::Name;
use crate::event::PatternEvent;

/// Something the injector did.
///
/// Every variant carries the injector's [`name`](super::Builder::name) (also returned by
/// [`Event::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A fault was injected into a call.
    Injected {
        /// The injector's name.
        name: Name,
        /// The fault.
        fault: Fault,
    },
}

impl Event {
    /// The name of the injector the event came from.
    pub fn name(&self) -> &Name {
        match self {
            Event::Injected { name, .. } => name,
        }
    }
}

impl Fault {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"error"`, `"hang"`,
    /// `"latency"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Fault::Error => "error",
            Fault::Hang => "hang",
            Fault::Latency(_) => "latency",
        }
    }
}

/// The metric handles of one injector (feature `metrics`).
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Instruments {
    faults: [metrics::Counter; 3],
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        let Event::Injected { name, fault } = self;
        let (name, kind) = (name.as_str(), fault.as_str());
        match fault {
            Fault::Latency(delay) => tracing::info!(
                target: "bulwark::chaos",
                name,
                fault = kind,
                delay_s = delay.as_secs_f64(),
                "fault injected"
            ),
            _ => tracing::info!(target: "bulwark::chaos", name, fault = kind, "fault injected"),
        }
    }

    #[cfg(feature = "metrics")]
    type Instruments = Instruments;

    #[cfg(feature = "metrics")]
    fn instruments(name: &Name) -> Instruments {
        Instruments {
            faults: ["error", "hang", "latency"].map(|fault| {
                crate::instrument::counter(
                    "bulwark.chaos.faults",
                    "Faults injected, by kind",
                    name,
                    &[("fault", fault)],
                )
            }),
        }
    }

    #[cfg(feature = "metrics")]
    fn record(&self, instruments: Option<&Instruments>) {
        let (Some(i), Event::Injected { fault, .. }) = (instruments, self) else {
            return;
        };
        let index = match fault {
            Fault::Error => 0,
            Fault::Hang => 1,
            Fault::Latency(_) => 2,
        };
        i.faults[index].increment(1);
    }
}
