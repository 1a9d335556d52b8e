//! Sagas: running and compensating, the log and its stores (one contract for every store),
//! recovery, refused appends, and tracing. The crash test is its own binary (`saga_crash`), since
//! it spawns itself as worker processes.
#![cfg(feature = "saga")]

// The store contract's checks and the macro that instantiates them for a store; the PostgreSQL
// suite includes the same file. Declared first, so its macro is in scope below.
#[path = "support/contract.rs"]
#[macro_use]
mod contract;
// The contract refers to the support module by this name in every binary that includes it.
use support as saga_support;

mod basics;
mod faults;
mod ledger;
mod log;
mod recovery;
mod replay;
mod sqlite;
mod store_contract;
mod support;
mod tracing;
