//! The health endpoint served by axum on a loopback port, read with hyper's client: status
//! codes, content type, and the JSON body in both shapes.
#![cfg(all(feature = "health", feature = "http"))]

use axum::Router;
use bulwark::health::{
    Check, Health, HealthAggregator, HealthEndpoint, JsonFormat, Selection, Status, Tag, Visibility,
};
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::time::Duration;

/// A readiness check `db` whose status the test sets, a liveness check `loop`, and an optional
/// readiness check `cache`.
fn aggregator(db: &Arc<AtomicU8>) -> HealthAggregator {
    let db = db.clone();
    HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(
            Check::from_fn("db", move || {
                let status = match db.load(SeqCst) {
                    0 => Health::healthy().with_detail("pool", 8u32),
                    1 => Health::degraded("replica lag").with_detail("lag_ms", 850u32),
                    _ => Health::unhealthy("connection refused"),
                };
                async move { status }
            })
            .readiness(),
        )
        .check(Check::from_fn("loop", || async { true }).liveness())
        .check(
            Check::from_fn("cache", || async { true })
                .readiness()
                .optional(),
        )
        .build()
        .unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    cache_control: Option<String>,
    allow: Option<String>,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn request(
    client: &Client<HttpConnector, Empty<Bytes>>,
    method: Method,
    url: String,
) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(Empty::new())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let header = |name| {
        res.headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (content_type, cache_control, allow) = (
        header(header::CONTENT_TYPE),
        header(header::CACHE_CONTROL),
        header(header::ALLOW),
    );
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        cache_control,
        allow,
        body,
    }
}

fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn endpoint_answers_probes_with_status_codes_and_hides_details_by_default() {
    let db = Arc::new(AtomicU8::new(0));
    let endpoint = aggregator(&db).endpoint();
    let mut app = Router::new();
    for path in ["/health", "/health/live", "/health/ready"] {
        app = app.route_service(path, endpoint.clone());
    }
    let addr = serve(app).await;
    let client = client();
    let get = |path: &str| request(&client, Method::GET, format!("http://{addr}{path}"));

    let live = get("/health/live").await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(
        live.content_type.as_deref(),
        Some("application/health+json")
    );
    assert_eq!(live.cache_control.as_deref(), Some("no-store"));
    assert_eq!(live.json(), json!({ "status": "pass" }));

    db.store(1, SeqCst);
    let ready = get("/health/ready").await;
    assert_eq!(
        (ready.status, ready.json()),
        (StatusCode::OK, json!({ "status": "warn" }))
    );

    db.store(2, SeqCst);
    let ready = get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json(), json!({ "status": "fail" }));
    // Liveness does not depend on the database.
    assert_eq!(get("/health/live").await.status, StatusCode::OK);
    assert_eq!(get("/health").await.status, StatusCode::SERVICE_UNAVAILABLE);

    let head = request(&client, Method::HEAD, format!("http://{addr}/health")).await;
    assert_eq!(head.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(head.body.is_empty());

    let post = request(&client, Method::POST, format!("http://{addr}/health")).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.allow.as_deref(), Some("GET, HEAD"));
}

#[tokio::test]
async fn endpoint_shows_details_in_health_json_and_spring_shapes_when_configured() {
    let db = Arc::new(AtomicU8::new(2));
    let health = aggregator(&db);
    let full = health.endpoint().show_details(true);
    let spring = health
        .endpoint()
        .routes([("/actuator/health", Selection::All)])
        .format(JsonFormat::Spring)
        .show_details(true)
        .degraded_status(StatusCode::TOO_MANY_REQUESTS);
    let names = health
        .endpoint()
        .routes([("/names", Selection::Tagged(Tag::Readiness))])
        .visibility(Visibility::Checks);
    let app = Router::new()
        .route_service("/health", full)
        .route_service("/actuator/health", spring)
        .route_service("/names", names);
    let addr = serve(app).await;
    let client = client();
    let get = |path: &str| request(&client, Method::GET, format!("http://{addr}{path}"));

    let reply = get("/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["status"], "fail");
    let checks = body["checks"].as_object().unwrap();
    assert_eq!(checks.len(), 3);
    let db_entry = &body["checks"]["db"][0];
    assert_eq!(db_entry["status"], "fail");
    assert_eq!(db_entry["output"], "connection refused");
    assert!(db_entry["durationMs"].is_number());
    let time = db_entry["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z'),
        "RFC 3339 in UTC: {time}"
    );
    assert_eq!(body["checks"]["loop"][0]["status"], "pass");
    assert!(body["checks"]["loop"][0].get("output").is_none());

    let reply = get("/actuator/health").await;
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["components"]["db"]["status"], "DOWN");
    assert_eq!(
        body["components"]["db"]["details"]["message"],
        "connection refused"
    );
    assert_eq!(body["components"]["cache"]["status"], "UP");

    db.store(1, SeqCst);
    let reply = get("/actuator/health").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let body = reply.json();
    assert_eq!(body["status"], "DEGRADED");
    assert_eq!(body["components"]["db"]["details"]["lag_ms"], 850);

    let reply = get("/names").await;
    let body = reply.json();
    assert_eq!(body["status"], "warn");
    let entry = body["checks"]["db"][0].as_object().unwrap();
    assert_eq!(entry["status"], "warn");
    assert!(entry.get("output").is_none() && entry.get("details").is_none());
    assert!(
        body["checks"].get("loop").is_none(),
        "only readiness checks"
    );

    assert_eq!(get("/health/live").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_path_is_not_found_when_the_endpoint_is_the_fallback() {
    let db = Arc::new(AtomicU8::new(0));
    let endpoint: HealthEndpoint = aggregator(&db).endpoint();
    let addr = serve(Router::new().fallback_service(endpoint)).await;
    let client = client();
    let reply = request(&client, Method::GET, format!("http://{addr}/health/ready")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = request(&client, Method::GET, format!("http://{addr}/elsewhere")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoint_serves_hyper_with_no_glue_but_the_adapter() {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    let db = Arc::new(AtomicU8::new(0));
    let endpoint = aggregator(&db).endpoint();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(endpoint))
            .await
            .unwrap();
    });
    let reply = request(
        &client(),
        Method::GET,
        format!("http://{addr}/health/ready"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/health+json")
    );
    assert_eq!(reply.json(), json!({ "status": "pass" }));
}

#[tokio::test]
async fn report_serializes_to_health_json_with_everything_shown() {
    let db = Arc::new(AtomicU8::new(1));
    let report = aggregator(&db).report().await;
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["status"], "warn");
    assert_eq!(value["checks"]["db"][0]["details"]["lag_ms"], 850);
    assert_eq!(serde_json::to_value(Status::Degraded).unwrap(), "degraded");
    let bytes = report.to_json(JsonFormat::Spring, Visibility::Status);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({ "status": "DEGRADED" })
    );
}
