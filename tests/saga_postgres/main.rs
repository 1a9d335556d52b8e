//! The PostgreSQL saga store against a real server (`DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`), each test in a schema of its own: the store
//! contract every store passes, leases and fencing, takeover by live nodes, the fencing number
//! steps see, and the operations.
//!
//! Without a reachable server every test says so and passes, except under `CI=true`, where it
//! fails (`.ci/run` runs them so).

#[path = "../saga/support/mod.rs"]
mod saga_support;

#[path = "../saga/support/contract.rs"]
#[macro_use]
mod contract;

mod pg;

mod contract_postgres {
    contract!(crate::pg::Postgres);
}
mod lease;
mod operations;
mod takeover;
