//! The settings a running breaker reads on its paths, each in its own atomic, so that
//! [`reconfigure`](super::CircuitBreaker::reconfigure) changes them without a lock on any call
//! (a relaxed load costs what reading a plain field does).
//!
//! The window's kind and size never change; the open duration and its backoff are read under
//! the transition lock, so they live in `Transitions` with the full configuration.

use super::builder::{Config, DroppedCall, WindowKind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// "Off" for the optional figures: not a valid rate (a NaN pattern) nor a duration we accept.
const OFF: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) window: WindowKind,
    minimum_calls: AtomicU32,
    /// `f64` bits, or `OFF`.
    failure_rate: AtomicU64,
    /// Nanoseconds, or `OFF`.
    slow_after: AtomicU64,
    slow_rate: AtomicU64,
    /// 0: off.
    consecutive: AtomicU32,
    dropped_failure: AtomicBool,
    /// Nanoseconds, or `OFF`.
    max_wait_in_half_open: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(OFF - 1).min(OFF - 1)
}

impl Live {
    pub(crate) fn new(config: &Config) -> Self {
        let live = Self {
            window: config.window,
            minimum_calls: AtomicU32::new(0),
            failure_rate: AtomicU64::new(OFF),
            slow_after: AtomicU64::new(OFF),
            slow_rate: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            dropped_failure: AtomicBool::new(false),
            max_wait_in_half_open: AtomicU64::new(OFF),
        };
        live.store(config);
        live
    }

    /// Takes every figure of `config` (whose window is this one's: checked by the caller).
    pub(crate) fn store(&self, config: &Config) {
        self.minimum_calls.store(config.minimum_calls, Relaxed);
        self.failure_rate
            .store(config.failure_rate.map_or(OFF, f64::to_bits), Relaxed);
        let (after, rate) = config
            .slow_call
            .map_or((OFF, 0), |(d, r)| (nanos(d), r.to_bits()));
        // The rate first: a reader that sees the new duration also sees a rate (old or new).
        self.slow_rate.store(rate, Relaxed);
        self.slow_after.store(after, Relaxed);
        self.consecutive
            .store(config.consecutive_failures.unwrap_or(0), Relaxed);
        self.dropped_failure
            .store(config.dropped == DroppedCall::Failure, Relaxed);
        self.max_wait_in_half_open
            .store(config.max_wait_in_half_open.map_or(OFF, nanos), Relaxed);
    }

    #[inline]
    pub(crate) fn minimum_calls(&self) -> u32 {
        self.minimum_calls.load(Relaxed)
    }

    #[inline]
    pub(crate) fn failure_rate(&self) -> Option<f64> {
        let bits = self.failure_rate.load(Relaxed);
        (bits != OFF).then(|| f64::from_bits(bits))
    }

    /// The slow-call rule: slower than, and the rate that opens.
    #[inline]
    pub(crate) fn slow_call(&self) -> Option<(Duration, f64)> {
        let after = self.slow_after.load(Relaxed);
        (after != OFF).then(|| {
            (
                Duration::from_nanos(after),
                f64::from_bits(self.slow_rate.load(Relaxed)),
            )
        })
    }

    #[inline]
    pub(crate) fn slow_call_on(&self) -> bool {
        self.slow_after.load(Relaxed) != OFF
    }

    #[inline]
    pub(crate) fn consecutive_failures(&self) -> Option<u32> {
        match self.consecutive.load(Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    #[inline]
    pub(crate) fn dropped(&self) -> DroppedCall {
        if self.dropped_failure.load(Relaxed) {
            DroppedCall::Failure
        } else {
            DroppedCall::Ignore
        }
    }

    /// Nanoseconds, if half-open has a maximum wait.
    #[inline]
    pub(crate) fn max_wait_in_half_open(&self) -> Option<u64> {
        let nanos = self.max_wait_in_half_open.load(Relaxed);
        (nanos != OFF).then_some(nanos)
    }
}
