//! The bulkhead: admission through the standalone door and the tower door, cancellation, a
//! model check and stress tests (tasks on a runtime; sixteen bare threads).
#![cfg(feature = "bulkhead")]

mod adaptive;
mod adaptive_sim;
mod basics;
mod cancel;
mod common;
mod layer;
mod model;
mod stress;
#[path = "../common/mod.rs"]
mod support;
mod threads;
