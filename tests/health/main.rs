//! The health aggregator: on demand and in the background, its HTTP endpoint, and the ready-made
//! checks over a circuit breaker and a bulkhead.
#![cfg(feature = "health")]

mod background;
mod grpc;
mod http;
mod on_demand;
mod ready_made;
mod threads;
mod vocabulary;
