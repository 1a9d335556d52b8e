//! The HTTP side of the order service: downstream axum apps, the gateway's protected client
//! stacks, and its aggregating order-summary handler.

use crate::scenario::Log;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bulwark::bulkhead::{Bulkhead, BulkheadFull};
use bulwark::circuit_breaker::{CircuitBreaker, Event as BreakerEvent};
use bulwark::classify::Verdict;
use bulwark::config::Policies;
use bulwark::retry::Retry;
use bulwark::{BoxError, ServiceBuilderExt};
use bytes::Bytes;
use http::{StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

pub(crate) type HttpClient = Client<HttpConnector, Empty<Bytes>>;
/// A downstream as the gateway sees it: a path in, the body out, behind bulwark layers.
pub(crate) type Downstream = BoxCloneSyncService<Uri, String, BoxError>;

/// A downstream service's switches: down (answers 503) and a delay per request; and a count of
/// the requests that arrived, to watch.
#[derive(Clone)]
pub(crate) struct Switches {
    pub(crate) down: Arc<AtomicBool>,
    pub(crate) delay_ms: Arc<AtomicU64>,
    pub(crate) arrived: Arc<watch::Sender<u64>>,
}

impl Switches {
    pub(crate) fn new() -> Self {
        Self {
            down: Arc::default(),
            delay_ms: Arc::default(),
            arrived: Arc::new(watch::Sender::new(0)),
        }
    }
}

/// A listener on an ephemeral loopback port, served until `stop` is sent.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn serve(app: Router) -> std::io::Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Server { addr, stop, task })
}

pub(crate) fn downstream_app(name: &'static str, switches: Switches) -> Router {
    let handler = move |Path(id): Path<u64>| {
        let switches = switches.clone();
        async move {
            switches.arrived.send_modify(|n| *n += 1);
            tokio::time::sleep(Duration::from_millis(
                10 + switches.delay_ms.load(Ordering::Relaxed),
            ))
            .await;
            if switches.down.load(Ordering::Relaxed) {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{name} unavailable"),
                )
            } else {
                (StatusCode::OK, format!("{name} ok for order {id}"))
            }
        }
    };
    Router::new().route("/orders/{id}", get(handler))
}

/// GETs a URI and reads the body; a 5xx is an error, so retry and breaker count it.
pub(crate) async fn get_text(client: HttpClient, uri: Uri) -> Result<String, BoxError> {
    let response = client.get(uri).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if status.is_server_error() {
        return Err(format!("{status}: {text}").into());
    }
    Ok(text)
}

/// What the breaker counts: a call the bulkhead turned away says nothing about the downstream.
fn classify(result: &Result<String, BoxError>) -> Verdict {
    match result {
        Ok(_) => Verdict::Success,
        Err(e) if e.is::<BulkheadFull>() => Verdict::Ignored,
        Err(_) => Verdict::Failure,
    }
}

pub(crate) type Breaker = CircuitBreaker<fn(&Result<String, BoxError>) -> Verdict>;

/// A downstream's breaker, named after it, with its settings from the policies file (a 50%
/// failure rate over the last 10 calls, 5 at least); it says in the log when it changes state.
pub(crate) fn breaker(
    name: &'static str,
    policies: &Policies,
    log: &Log,
) -> Result<Breaker, BoxError> {
    let log = log.clone();
    let breaker = policies
        .circuit_breaker(name)?
        .on_event(move |event| {
            if let BreakerEvent::StateChanged {
                name,
                from,
                to,
                reason,
            } = event
            {
                log.say(format!(
                    "  circuit breaker {name:?}: {} -> {} ({})",
                    from.as_str(),
                    to.as_str(),
                    reason.as_str()
                ));
            }
        })
        .classifier(classify as fn(&Result<String, BoxError>) -> Verdict)
        .build()?;
    Ok(breaker)
}

/// The gateway's stack for one downstream, and its bulkhead (named after the downstream, with
/// its settings and its attempt timeout from the policies file).
pub(crate) fn protect(
    client: &HttpClient,
    breaker: &Breaker,
    retry: &Retry,
    policies: &Policies,
) -> Result<(Downstream, Bulkhead), BoxError> {
    let client = client.clone();
    let name = breaker.name().as_ref();
    let bulkhead = policies.bulkhead(name)?.build()?;
    let stack = ServiceBuilder::new()
        .bulwark_retry(retry)
        .circuit_breaker(breaker)
        .bulkhead(&bulkhead)
        .bulwark_timeout(policies.timeout(name)?.duration())
        .service(service_fn(move |uri: Uri| get_text(client.clone(), uri)));
    Ok((BoxCloneSyncService::new(stack), bulkhead))
}

#[derive(Clone)]
pub(crate) struct Gateway {
    pub(crate) downstreams: Arc<[(&'static str, SocketAddr, Downstream)]>,
}

/// `/orders/{id}/summary`: every downstream at once; a part that fails is reported, not fatal.
pub(crate) async fn summary(
    State(gateway): State<Gateway>,
    Path(id): Path<u64>,
) -> (StatusCode, String) {
    let parts = gateway.downstreams.iter().map(|(name, addr, client)| {
        let mut client = client.clone();
        async move {
            let uri: Uri = format!("http://{addr}/orders/{id}")
                .parse()
                .map_err(BoxError::from)?;
            let text = client.ready().await?.call(uri).await;
            text.map_err(|e| format!("{name} unavailable ({e})").into())
        }
    });
    let parts: Vec<Result<String, BoxError>> = futures::future::join_all(parts).await;
    let degraded = parts.iter().any(Result::is_err);
    let text: Vec<String> = parts
        .into_iter()
        .map(|p| p.unwrap_or_else(|e| e.to_string()))
        .collect();
    let tag = if degraded { "partial" } else { "complete" };
    (StatusCode::OK, format!("{tag}: {}", text.join("; ")))
}
