//! The order flow over real HTTP on loopback:
//! `cargo run --example order_service_http --features http,metrics`.
//!
//! Three downstream services (inventory, payment, shipping) are axum apps on ephemeral ports. The
//! gateway, another axum app, calls them with a hyper client wrapped in bulwark layers (retry →
//! circuit breaker → bulkhead → per-attempt timeout), serves `/health/live` and `/health/ready`
//! from a health aggregator, `/metrics` in the Prometheus text format (every breaker, bulkhead,
//! retry and check labelled with its name), and has an aggregating endpoint,
//! `/orders/{id}/summary`, that calls all three at once and answers with what it has when one is
//! down. Breakers, bulkheads, the retry and the attempt timeouts are read from
//! `policies.toml`; after the outage an operator edits the file and the gateway reloads it,
//! without losing any breaker's state. The example drives bursts of requests itself, prints what happened, then shuts the
//! gateway down the way a rolling deployment needs: readiness turns 503 first, the requests in
//! flight finish, then the listeners close. The story is in `scenario.rs`, shared with
//! `tests/order_service_http.rs`.
//!
//! It uses real time and real sockets (on 127.0.0.1 only) and finishes in about a second.

mod net;
mod scenario;

#[tokio::main]
async fn main() -> Result<(), bulwark::BoxError> {
    scenario::run(&scenario::Log::new(true)).await?;
    Ok(())
}
