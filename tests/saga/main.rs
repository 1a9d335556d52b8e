//! Sagas: running and compensating, the log and its stores (one contract for every store),
//! recovery, refused appends, and tracing. The crash test is its own binary (`saga_crash`), since
//! it spawns itself as worker processes.
#![cfg(feature = "saga")]

mod basics;
mod faults;
mod ledger;
mod log;
mod recovery;
mod sqlite;
mod store_contract;
mod support;
mod tracing;
