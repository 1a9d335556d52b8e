//! The aggregator served as `grpc.health.v1` by a real tonic server on a loopback port, read by
//! tonic's generated client: `Check` per service, `Watch` following a change, unknown services.
#![cfg(feature = "grpc")]

use bulwark::health::{Check, Health, HealthAggregator};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Code;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A critical check `db` the test turns up and down, and an optional check `cache` that stays up.
fn aggregator(db_up: &Arc<AtomicBool>) -> HealthAggregator {
    let db_up = db_up.clone();
    HealthAggregator::builder()
        .cache_for(Duration::ZERO)
        .check(Check::from_fn("db", move || {
            let up = db_up.load(SeqCst);
            async move {
                if up {
                    Health::healthy()
                } else {
                    Health::unhealthy("connection refused")
                }
            }
        }))
        .check(Check::from_fn("cache", || async { true }).optional())
        .build()
        .expect("valid configuration")
}

async fn serve(
    health: &HealthAggregator,
) -> (HealthClient<Channel>, bulwark::health::GrpcHealthTask) {
    let (service, task) = health.grpc(Duration::from_millis(20)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (HealthClient::new(channel), task)
}

async fn check(client: &mut HealthClient<Channel>, service: &str) -> Result<ServingStatus, Code> {
    let request = HealthCheckRequest {
        service: service.to_string(),
    };
    match client.check(request).await {
        Ok(reply) => Ok(reply.into_inner().status()),
        Err(status) => Err(status.code()),
    }
}

#[tokio::test]
async fn check_answers_the_overall_status_and_each_check_by_name() {
    let db_up = Arc::new(AtomicBool::new(true));
    let health = aggregator(&db_up);
    let (mut client, _task) = serve(&health).await;
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::Serving));
    assert_eq!(check(&mut client, "db").await, Ok(ServingStatus::Serving));
    assert_eq!(
        check(&mut client, "cache").await,
        Ok(ServingStatus::Serving)
    );
    assert_eq!(check(&mut client, "nope").await, Err(Code::NotFound));
}

#[tokio::test]
async fn an_unhealthy_aggregator_is_not_serving_from_the_first_answer() {
    let db_up = Arc::new(AtomicBool::new(false));
    let health = aggregator(&db_up);
    // `grpc` returns only once the first report is published: no SERVING before it.
    let (mut client, _task) = serve(&health).await;
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::NotServing));
    assert_eq!(
        check(&mut client, "db").await,
        Ok(ServingStatus::NotServing)
    );
    assert_eq!(
        check(&mut client, "cache").await,
        Ok(ServingStatus::Serving)
    );
}

#[tokio::test]
async fn watch_follows_the_aggregator_down_and_up() {
    let db_up = Arc::new(AtomicBool::new(true));
    let health = aggregator(&db_up);
    let (mut client, _task) = serve(&health).await;
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let mut stream = client.watch(request).await.unwrap().into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a status within 10 s")
            .expect("the stream stays open")
            .expect("no error")
            .status()
    };
    assert_eq!(next().await, ServingStatus::Serving);
    db_up.store(false, SeqCst);
    assert_eq!(next().await, ServingStatus::NotServing);
    db_up.store(true, SeqCst);
    assert_eq!(next().await, ServingStatus::Serving);
}

#[tokio::test]
async fn dropping_the_task_stops_the_updates() {
    let db_up = Arc::new(AtomicBool::new(true));
    let health = aggregator(&db_up);
    let (mut client, task) = serve(&health).await;
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::Serving));
    drop(task);
    db_up.store(false, SeqCst);
    // Several refresh periods pass; the service keeps the last status it was given.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::Serving));
}
