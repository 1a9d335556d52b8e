//! Half-open probe admission: one atomic word, so admission is a compare-and-swap and can never
//! let more than the permitted number of probes run at once, however many threads race for it.
//!
//! The word is `generation (16) | in flight (12) | completed (12) | failed (12) | slow (12)`.
//! The generation is that of the half-open period: a probe admitted in an earlier period that
//! finishes late finds another generation and changes nothing.

use super::sync::{AtomicU64, Ordering, Padded};
use crate::classify::Verdict;

const FIELD: u32 = 12;
const MASK: u64 = (1 << FIELD) - 1;
const IN_FLIGHT: u32 = 36;
const COMPLETED: u32 = 24;
const FAILED: u32 = 12;
const SLOW: u32 = 0;

#[derive(Debug)]
pub(crate) struct Probes {
    /// A std atomic even under loom: only `reconfigure` writes it, and no model does.
    permitted: std::sync::atomic::AtomicU64,
    word: Padded<AtomicU64>,
}

/// The answer to a probe request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    Admitted,
    /// Every slot is taken (or enough probes completed and the verdict is being applied).
    Full,
    /// The half-open period this caller saw is over.
    Stale,
}

/// The probes of one half-open period: running now, and what the completed ones did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProbeSnapshot {
    pub(crate) in_flight: u32,
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

/// What the completed probes of one half-open period did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProbeTotals {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

const fn field(word: u64, shift: u32) -> u64 {
    (word >> shift) & MASK
}

const fn generation_tag(generation: u32) -> u64 {
    (generation as u16 as u64) << 48
}

impl Probes {
    /// `permitted` is validated by the builder (1 ..= 1000, which leaves room in 12 bits for the
    /// probes that complete while the verdict is being applied).
    pub(crate) fn new(permitted: u32) -> Self {
        Self {
            permitted: std::sync::atomic::AtomicU64::new(u64::from(permitted)),
            word: Padded(AtomicU64::new(0)),
        }
    }

    /// How many probes a half-open period admits.
    pub(crate) fn permitted(&self) -> u32 {
        self.permitted.load(std::sync::atomic::Ordering::Relaxed) as u32
    }

    /// Changes it (1 ..= 1000, validated by the caller); applies from the next admission.
    pub(crate) fn set_permitted(&self, permitted: u32) {
        self.permitted
            .store(u64::from(permitted), std::sync::atomic::Ordering::Relaxed);
    }

    /// Opens the slots of a new half-open period.
    pub(crate) fn reset(&self, generation: u32) {
        self.word
            .store(generation_tag(generation), Ordering::Release);
    }

    pub(crate) fn try_acquire(&self, generation: u32) -> Probe {
        let permitted = self.permitted.load(std::sync::atomic::Ordering::Relaxed);
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if current >> 48 != generation_tag(generation) >> 48 {
                return Probe::Stale;
            }
            if field(current, IN_FLIGHT) >= permitted || field(current, COMPLETED) >= permitted {
                return Probe::Full;
            }
            match self.word.compare_exchange_weak(
                current,
                current + (1 << IN_FLIGHT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Probe::Admitted,
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives back a probe's slot; `counted` is its outcome (never `Ignored`) and whether it was
    /// slow, or `None` for a probe that was dropped or ignored. Returns the totals of the period
    /// when this probe was counted in it.
    pub(crate) fn finish(
        &self,
        generation: u32,
        counted: Option<(Verdict, bool)>,
    ) -> Option<ProbeTotals> {
        let mut add = 0;
        if let Some((outcome, slow)) = counted {
            add |= 1 << COMPLETED;
            if outcome == Verdict::Failure {
                add |= 1 << FAILED;
            }
            if slow {
                add |= 1 << SLOW;
            }
        }
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if current >> 48 != generation_tag(generation) >> 48 || field(current, IN_FLIGHT) == 0 {
                return None;
            }
            // Completed, failed and slow stay below 2 * permitted <= 2000 < 4096: no carry.
            let next = current - (1 << IN_FLIGHT) + add;
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return counted.map(|_| ProbeTotals {
                        calls: field(next, COMPLETED) as u32,
                        failures: field(next, FAILED) as u32,
                        slow: field(next, SLOW) as u32,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// The probes of the half-open period `generation` (all zero for another period).
    pub(crate) fn snapshot(&self, generation: u32) -> ProbeSnapshot {
        let current = self.word.load(Ordering::Acquire);
        if current >> 48 != generation_tag(generation) >> 48 {
            return ProbeSnapshot::default();
        }
        ProbeSnapshot {
            in_flight: field(current, IN_FLIGHT) as u32,
            calls: field(current, COMPLETED) as u32,
            failures: field(current, FAILED) as u32,
            slow: field(current, SLOW) as u32,
        }
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::*;

    /// A probe that finishes when its period shows no probe in flight changes nothing, even when
    /// the period's generation agrees with its own in the 16 bits the word keeps.
    #[test]
    fn a_finish_with_no_probe_in_flight_changes_nothing() {
        let probes = Probes::new(2);
        probes.reset(0);
        assert_eq!(probes.try_acquire(0), Probe::Admitted);
        probes.reset(1 << 16);
        let fresh = probes.word.load(Ordering::Relaxed);
        assert_eq!(probes.finish(0, Some((Verdict::Failure, true))), None);
        assert_eq!(probes.finish(0, None), None);
        assert_eq!(probes.word.load(Ordering::Relaxed), fresh);
        assert_eq!(probes.try_acquire(1 << 16), Probe::Admitted);
        let totals = probes.finish(1 << 16, Some((Verdict::Success, true)));
        assert_eq!(
            totals,
            Some(ProbeTotals {
                calls: 1,
                failures: 0,
                slow: 1
            })
        );
    }
}
