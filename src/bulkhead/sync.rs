//! Synchronisation primitives of the bulkhead's semaphore: `std`'s, or loom's models of them under
//! `--cfg bulwark_loom`. Only the state word and the queue's mutex are modelled; the counters kept
//! for `metrics()` are plain `std` atomics written under the mutex.

#[cfg(bulwark_loom)]
pub(super) use loom::sync::atomic::AtomicUsize;
#[cfg(bulwark_loom)]
pub(super) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(bulwark_loom))]
pub(super) use std::sync::atomic::AtomicUsize;
#[cfg(not(bulwark_loom))]
pub(super) use std::sync::{Mutex, MutexGuard};
