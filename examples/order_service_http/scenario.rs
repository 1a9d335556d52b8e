//! The order service's story, shared by `main.rs` and `tests/order_service_http.rs`: start the
//! downstreams and the gateway (its policies read from `policies.toml`), drive bursts through
//! it, scrape `/metrics`, reload an edited policies file, shut down.

use crate::net::{
    Breaker, Gateway, HttpClient, Switches, breaker, downstream_app, get_text, protect, serve,
    summary,
};
use axum::Router;
use axum::routing::get;
use bulwark::BoxError;
use bulwark::config::Policies;
use bulwark::health::{Check, CircuitBreakerCheck, Health, HealthAggregator};
use bulwark::retry::Retry;
use http::Uri;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The gateway's policies as shipped; the run copies them to a file an operator may edit.
const POLICIES: &str = include_str!("policies.toml");

/// What the run printed (also printed as it goes when `echo` is set), and the `/metrics` scrape
/// taken while shipping was down.
#[derive(Clone, Default)]
pub(crate) struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    echo: bool,
}

impl Log {
    pub(crate) fn new(echo: bool) -> Self {
        Self {
            lines: Arc::default(),
            echo,
        }
    }

    pub(crate) fn say(&self, line: impl Into<String>) {
        let line = line.into();
        if self.echo {
            println!("{line}");
        }
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    #[allow(dead_code)] // Read by the test.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The process's Prometheus recorder, installed once, before any pattern is built (a pattern
/// registers its metric handles when it is built).
fn prometheus() -> Result<PrometheusHandle, BoxError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])?
        .install_recorder()?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Sends `n` summary requests at once and tallies the answers.
pub(crate) async fn burst(
    client: &HttpClient,
    gateway: SocketAddr,
    ids: std::ops::Range<u64>,
) -> Vec<String> {
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

pub(crate) async fn probe(
    client: &HttpClient,
    gateway: SocketAddr,
    path: &str,
) -> Result<String, BoxError> {
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

/// Runs the story; returns the `/metrics` scrape taken while shipping was down.
pub(crate) async fn run(log: &Log) -> Result<String, BoxError> {
    let metrics = prometheus()?;
    let names = ["inventory", "payment", "shipping"];
    let switches: Vec<Switches> = names.iter().map(|_| Switches::new()).collect();
    let mut servers = Vec::new();
    for (name, s) in names.iter().zip(&switches) {
        servers.push(serve(downstream_app(name, s.clone())).await?);
    }

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    // The policies file, copied where an operator may edit it.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("policies.toml");
    std::fs::write(&file, POLICIES)?;
    let policies = Policies::from_path(&file)?;
    let retry: Retry = policies.retry("gateway")?.build()?;
    let draining = Arc::new(AtomicBool::new(false));
    let mut health = HealthAggregator::builder()
        .name("gateway")
        .cache_for(Duration::ZERO);
    let mut downstreams = Vec::new();
    let mut breakers = Vec::new();
    let mut bulkheads = Vec::new();
    for (name, server) in names.iter().zip(&servers) {
        let breaker: Breaker = breaker(name, &policies, log)?;
        health =
            health.check(Check::new(*name, CircuitBreakerCheck::new(breaker.clone())).readiness());
        let (downstream, bulkhead) = protect(&client, &breaker, &retry, &policies)?;
        downstreams.push((*name, server.addr, downstream));
        breakers.push(breaker);
        bulkheads.push(bulkhead);
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
        .route_service("/health/ready", endpoint)
        .route("/metrics", get(move || async move { metrics.render() }));
    let gateway = serve(app).await?;
    let shipping_breaker = &breakers[2];
    let at = gateway.addr;
    log.say(format!(
        "downstreams on {:?}",
        servers.iter().map(|s| s.addr).collect::<Vec<_>>()
    ));
    log.say(format!("gateway on {at}"));
    log.say(format!(
        "GET /health/live  -> {}",
        probe(&client, at, "/health/live").await?
    ));
    log.say(format!(
        "GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    ));

    let answers = burst(&client, at, 1..21).await;
    log.say(format!(
        "burst of 20 summaries, all up: {}",
        tally(&answers)
    ));
    log.say(format!("  e.g. {}", answers[0]));

    log.say("shipping goes down (answers 503)");
    switches[2].down.store(true, Ordering::Relaxed);
    let before = *switches[2].arrived.borrow();
    let answers = burst(&client, at, 21..41).await;
    log.say(format!(
        "burst of 20 summaries, shipping down: {}",
        tally(&answers)
    ));
    let reached = *switches[2].arrived.borrow() - before;
    let refused = shipping_breaker.metrics().rejected;
    log.say(format!(
        "  shipping got {reached} calls (all answered 503) before its breaker opened; \
         the breaker refused {refused} more without sending them"
    ));
    log.say(format!("  e.g. {}", answers[answers.len() - 1]));
    log.say(format!(
        "GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    ));
    log.say("  (an open breaker degrades readiness, it does not take the gateway out of rotation)");
    let scrape = probe(&client, at, "/metrics").await?;
    let scrape = scrape
        .strip_prefix("200 ")
        .ok_or_else(|| format!("GET /metrics failed: {scrape}"))?
        .to_owned();
    log.say("GET /metrics (the breakers and bulkheads, by name):");
    for line in scrape.lines().filter(|l| {
        l.starts_with("bulwark_circuit_breaker_state{") && l.ends_with(" 1")
            || l.starts_with("bulwark_bulkhead_max_concurrent{")
            || l.starts_with("bulwark_circuit_breaker_rejections") && l.contains("reason=\"open\"")
    }) {
        log.say(format!("  {line}"));
    }

    log.say("an operator gives inventory's bulkhead more room in the policies file; the gateway reloads it");
    let text = std::fs::read_to_string(&file)?;
    let edited = text.replacen(
        "[bulkhead.inventory]\nmax_concurrent = 4",
        "[bulkhead.inventory]\nmax_concurrent = 8",
        1,
    );
    std::fs::write(&file, edited)?;
    let reloaded = Policies::from_path(&file)?;
    for (breaker, bulkhead) in breakers.iter().zip(&bulkheads) {
        reloaded.reconfigure(breaker)?;
        reloaded.reconfigure(bulkhead)?;
    }
    let after = probe(&client, at, "/metrics").await?;
    for line in after
        .lines()
        .filter(|l| l.starts_with("bulwark_bulkhead_max_concurrent{"))
    {
        log.say(format!("  {line}"));
    }
    log.say(format!(
        "  (shipping's breaker kept its state through the reload: {})",
        shipping_breaker.state().as_str()
    ));

    log.say("shutting down: 5 slow requests in flight (inventory now takes 200 ms)");
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
    log.say(format!(
        "1. readiness first: GET /health/ready -> {}",
        probe(&client, at, "/health/ready").await?
    ));
    let _ = gateway.stop.send(());
    let answers = in_flight.await?;
    log.say(format!(
        "2. in-flight requests drained: {}",
        tally(&answers)
    ));
    log.say(format!("   e.g. {}", answers[0]));
    gateway.task.await??;
    let refused = probe(&client, at, "/health/live").await.is_err();
    log.say(format!(
        "3. gateway listener closed (new request refused: {refused})"
    ));
    for server in servers {
        let _ = server.stop.send(());
        server.task.await??;
    }
    log.say("downstream listeners closed; bye");
    Ok(scrape)
}
