//! The circuit breaker: the closed state's windows and trip rules, the other states, the tower
//! door, real threads, and a model check.

mod closed;
mod concurrency;
mod layer;
mod model;
mod states;
#[path = "../common/mod.rs"]
mod support;
