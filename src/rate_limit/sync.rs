//! The limiter's atomics: `std`'s, or loom's models of them under `--cfg bulwark_loom`.

#[cfg(bulwark_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(bulwark_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
