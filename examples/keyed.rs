//! A gateway's policies per key: a rate limit per client and a circuit breaker per downstream
//! host, in maps of bounded size: `cargo run --example keyed`.
//!
//! Time is tokio's paused clock: the waits take no real time.

use bulwark::circuit_breaker::{CircuitBreaker, State};
use bulwark::keyed::{Event, Keyed};
use bulwark::rate_limit::RateLimiter;
use std::time::Duration;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

/// A request to the gateway: who sends it, and which downstream host it goes to.
#[derive(Clone, Debug)]
struct Request {
    client: String,
    host: &'static str,
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), BoxError> {
    // Two calls per second for each client, at most 10,000 clients remembered.
    let per_client = Keyed::<String, _>::builder(
        RateLimiter::builder()
            .rate(2, Duration::from_secs(1))
            .burst(2)
            .build()?,
    )
    .name("per-client")
    .max_keys(10_000)
    .idle_timeout(Duration::from_secs(600))
    .build()?;

    // A breaker per downstream host: open after three failures in a row, for 30 s.
    let per_host = Keyed::<String, _>::builder(
        CircuitBreaker::builder()
            .consecutive_failures(3)
            .open_duration(Duration::from_secs(30))
            .build()?,
    )
    .name("per-host")
    .max_keys(2)
    .on_event(|e| {
        if let Event::Evicted { key, reason, .. } = e {
            println!("  (per-host: {key} evicted, {})", reason.as_str())
        }
    })
    .build()?;

    // The client's limit outside, the host's breaker inside; "b.example" is down.
    let mut gateway = ServiceBuilder::new()
        .layer(per_client.layer(|r: &Request| r.client.as_str()))
        .layer(per_host.layer(|r: &Request| r.host))
        .service(service_fn(|r: Request| async move {
            if r.host == "b.example" {
                Err::<String, BoxError>("connection refused".into())
            } else {
                Ok(format!("{} answered {}", r.host, r.client))
            }
        }));

    println!("alice sends four requests at once, bob one:");
    for client in ["alice", "alice", "alice", "alice", "bob"] {
        let req = Request {
            client: client.into(),
            host: "a.example",
        };
        match gateway.ready().await?.call(req).await {
            Ok(reply) => println!("  {reply}"),
            Err(e) => println!("  {client}: {e}"),
        }
    }

    tokio::time::advance(Duration::from_secs(1)).await;
    println!("\nb.example fails; a.example keeps answering:");
    for (i, host) in [
        "b.example",
        "a.example",
        "b.example",
        "b.example",
        "b.example",
        "a.example",
    ]
    .into_iter()
    .enumerate()
    {
        tokio::time::advance(Duration::from_millis(500)).await;
        let req = Request {
            client: format!("client-{i}"),
            host,
        };
        match gateway.ready().await?.call(req).await {
            Ok(reply) => println!("  {reply}"),
            Err(e) => println!("  {host}: {e}"),
        }
    }
    for host in ["a.example", "b.example"] {
        let state = per_host.get(host).map(|b| b.state())?;
        println!("  breaker of {host}: {state:?}");
    }
    assert_eq!(per_host.get("b.example")?.state(), State::Open);

    println!("\na third host comes while b.example is open; a.example makes room:");
    tokio::time::advance(Duration::from_secs(1)).await;
    let req = Request {
        client: "carol".into(),
        host: "c.example",
    };
    println!("  {}", gateway.ready().await?.call(req).await?);
    println!(
        "  per-host holds {:?}; b.example is still open",
        per_host.metrics().keys
    );
    println!("\nper-client: {:?}", per_client.metrics());
    println!("per-host: {:?}", per_host.metrics());
    Ok(())
}
