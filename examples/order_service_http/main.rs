//! The order flow over real HTTP on loopback:
//! `cargo run --example order_service_http --features http`.
//!
//! Three downstream services (inventory, payment, shipping) are axum apps on ephemeral ports. The
//! gateway, another axum app, calls them with a hyper client wrapped in bulwark layers (retry →
//! circuit breaker → bulkhead → per-attempt timeout), serves `/health/live` and `/health/ready`
//! from a health aggregator, and has an aggregating endpoint, `/orders/{id}/summary`, that calls
//! all three at once and answers with what it has when one is down. The example drives bursts of
//! requests itself, prints what happened, then shuts the gateway down the way a rolling deployment
//! needs: readiness turns 503 first, the requests in flight finish, then the listeners close.
//!
//! It uses real time and real sockets (on 127.0.0.1 only) and finishes in about a second.

mod net;

use axum::Router;
use axum::routing::get;
use bulwark::BoxError;
use bulwark::health::{Check, CircuitBreakerCheck, Health, HealthAggregator};
use bulwark::retry::Retry;
use http::Uri;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use net::{
    Gateway, HttpClient, Switches, breaker, downstream_app, get_text, protect, serve, summary,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Sends `n` summary requests at once and tallies the answers.
async fn burst(client: &HttpClient, gateway: SocketAddr, ids: std::ops::Range<u64>) -> Vec<String> {
    let calls = ids.map(|id| {
        let uri: Uri = format!("http://{gateway}/orders/{id}/summary")
            .parse()
            .expect("a valid URI");
        get_text(client.clone(), uri)
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| format!("error: {e}")))
        .collect()
}

async fn probe(client: &HttpClient, gateway: SocketAddr, path: &str) -> Result<String, BoxError> {
    let response = client
        .get(format!("http://{gateway}{path}").parse()?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!(
        "{} {}",
        status.as_u16(),
        String::from_utf8_lossy(&body)
    ))
}

fn tally(answers: &[String]) -> String {
    let complete = answers.iter().filter(|a| a.starts_with("complete")).count();
    let partial = answers.iter().filter(|a| a.starts_with("partial")).count();
    format!(
        "{complete} complete, {partial} partial, {} failed",
        answers.len() - complete - partial
    )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let names = ["inventory", "payment", "shipping"];
    let switches: Vec<Switches> = names.iter().map(|_| Switches::new()).collect();
    let mut servers = Vec::new();
    for (name, s) in names.iter().zip(&switches) {
        servers.push(serve(downstream_app(name, s.clone())).await?);
    }

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let retry = Retry::builder()
        .max_attempts(2)
        .stop_retrying_after(Duration::from_secs(1))
        .build()?;
    let draining = Arc::new(AtomicBool::new(false));
    let mut health = HealthAggregator::builder().cache_for(Duration::ZERO);
    let mut downstreams = Vec::new();
    let mut breakers = Vec::new();
    for (name, server) in names.iter().zip(&servers) {
        let breaker = breaker()?;
        health =
            health.check(Check::new(*name, CircuitBreakerCheck::new(breaker.clone())).readiness());
        downstreams.push((*name, server.addr, protect(&client, &breaker, &retry)?));
        breakers.push(breaker);
    }
    let flag = draining.clone();
    let health = health
        .check(
            Check::from_fn("accepting-traffic", move || {
                let draining = flag.load(Ordering::Relaxed);
                async move {
                    if draining {
                        Health::unhealthy("shutting down")
                    } else {
                        Health::healthy()
                    }
                }
            })
            .readiness(),
        )
        .check(Check::from_fn("event-loop", || async { true }).liveness())
        .build()?;

    let endpoint = health.endpoint();
    let app = Router::new()
        .route("/orders/{id}/summary", get(summary))
        .with_state(Gateway {
            downstreams: downstreams.into(),
        })
        .route_service("/health/live", endpoint.clone())
        .route_service("/health/ready", endpoint);
    let gateway = serve(app).await?;
    let shipping_breaker = &breakers[2];
    let at = gateway.addr;
    println!(
        "downstreams on {:?}",
        servers.iter().map(|s| s.addr).collect::<Vec<_>>()
    );
    println!("gateway on {at}");
    println!(
        "GET /health/live  -> {}",
        probe(&client, at, "/health/live").await?
    );
    println!(
        "GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    );

    let answers = burst(&client, at, 1..21).await;
    println!("burst of 20 summaries, all up: {}", tally(&answers));
    println!("  e.g. {}", answers[0]);

    println!("shipping goes down (answers 503)");
    switches[2].down.store(true, Ordering::Relaxed);
    let before = *switches[2].arrived.borrow();
    let answers = burst(&client, at, 21..41).await;
    println!("burst of 20 summaries, shipping down: {}", tally(&answers));
    let reached = *switches[2].arrived.borrow() - before;
    let refused = shipping_breaker.metrics().rejected;
    println!(
        "  shipping got {reached} calls (all answered 503) before its breaker opened; \
         the breaker refused {refused} more without sending them"
    );
    println!("  e.g. {}", answers[answers.len() - 1]);
    println!(
        "GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    );
    println!(
        "  (an open breaker degrades readiness, it does not take the gateway out of rotation)"
    );

    println!("shutting down: 5 slow requests in flight (inventory now takes 200 ms)");
    switches[0].delay_ms.store(200, Ordering::Relaxed);
    let mut arrived = switches[0].arrived.subscribe();
    let target = *arrived.borrow() + 5;
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { burst(&client, at, 41..46).await }
    });
    // Wait until all five have reached inventory, so they are in flight in the gateway.
    arrived.wait_for(|n| *n >= target).await?;
    draining.store(true, Ordering::Relaxed);
    println!(
        "1. readiness first: GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    );
    let _ = gateway.stop.send(());
    let answers = in_flight.await?;
    println!("2. in-flight requests drained: {}", tally(&answers));
    println!("   e.g. {}", answers[0]);
    gateway.task.await??;
    let refused = probe(&client, at, "/health/live").await.is_err();
    println!("3. gateway listener closed (new request refused: {refused})");
    for server in servers {
        let _ = server.stop.send(());
        server.task.await??;
    }
    println!("downstream listeners closed; bye");
    Ok(())
}
