//! The `SagaStore` contract, one suite run against every store of the crate (in memory, and
//! SQLite with the `sqlite` feature): what an append checks and does, claims and their expiry,
//! and what a `Registry` can rely on (two registries never resume one saga; a live run's saga
//! is left alone; a crashed recoverer's claim expires; unreadable parked logs are reported).
//!
//! Each check is a generic function over `Backend` (in `support/contract.rs`, which
//! the PostgreSQL suite includes too); the `contract!` macro instantiates the list for one
//! store. A new store adds a `Backend` and one `contract!` line.
#![cfg(feature = "saga")]

mod memory {
    contract!(crate::saga_support::Memory);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    contract!(crate::saga_support::Sqlite);
}
