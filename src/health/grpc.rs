//! The aggregator as a gRPC health service (`grpc.health.v1`, feature `grpc`), on `tonic-health`.

use super::{HealthAggregator, HealthReport, Status};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::server::{HealthReporter, health_reporter};

/// How a status is served: `Healthy` and `Degraded` are `SERVING` (a degraded service still takes
/// traffic, as the HTTP endpoint's 200 says), `Unhealthy` is `NOT_SERVING`.
fn serving(status: Status) -> ServingStatus {
    match status {
        Status::Healthy | Status::Degraded => ServingStatus::Serving,
        Status::Unhealthy => ServingStatus::NotServing,
    }
}

/// The task that keeps a [`HealthAggregator::grpc`] service's statuses in step with the aggregator.
/// Dropping it stops the updates (the service then keeps the last statuses it was given); keep it
/// as long as the server runs.
pub struct GrpcHealthTask {
    task: JoinHandle<()>,
}

impl Drop for GrpcHealthTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for GrpcHealthTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcHealthTask")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

/// Publishes what changed since `last` (a `Watch` stream then carries each change once).
async fn publish(
    reporter: &HealthReporter,
    last: &mut HashMap<String, ServingStatus>,
    report: &HealthReport,
) {
    let statuses = std::iter::once(("", report.status()))
        .chain(report.checks().iter().map(|c| (c.name(), c.status())));
    for (name, status) in statuses {
        let status = serving(status);
        if last.get(name) != Some(&status) {
            reporter.set_service_status(name, status).await;
            last.insert(name.to_owned(), status);
        }
    }
}

impl HealthAggregator {
    /// A tonic service answering `grpc.health.v1.Health/Check` and `Watch`: the service `""` is
    /// the overall status, and each check is a service of its own name. Add it to a tonic
    /// server (`Server::builder().add_service(service)`).
    ///
    /// The statuses follow the aggregator: they are published when the overall status changes
    /// (its [`watch`](Self::watch)) and at least every `refresh` (so a check that changes without
    /// changing the overall status is seen too), each time from a [`report`](Self::report),
    /// which reuses cached or background results as the aggregator's mode says. `Healthy` and
    /// `Degraded` are `SERVING`, `Unhealthy` is `NOT_SERVING`; a service the aggregator does not
    /// know is `NOT_FOUND`, as the protocol says.
    ///
    /// It returns once the first report is published, so the service never answers with a
    /// status the aggregator has not given. The updates then run on a task of the current tokio
    /// runtime until the returned [`GrpcHealthTask`] is dropped; keep it as long as the server
    /// runs (after it is dropped, the service keeps answering with the last statuses published).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), bulwark::ConfigError> {
    /// use std::time::Duration;
    /// use bulwark::health::{Check, Health, HealthAggregator};
    ///
    /// let health = HealthAggregator::builder()
    ///     .check(Check::from_fn("db", || async { Health::healthy() }))
    ///     .build()?;
    /// let (service, _updates) = health.grpc(Duration::from_secs(5)).await;
    /// // tonic::transport::Server::builder().add_service(service).serve(addr).await
    /// # let _ = service;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn grpc(&self, refresh: Duration) -> (HealthServer<impl Health>, GrpcHealthTask) {
        let (reporter, service) = health_reporter();
        let aggregator = self.clone();
        let mut status = self.watch();
        // A zero refresh would spin: one report per millisecond at the most.
        let refresh = refresh.max(Duration::from_millis(1));
        let mut last = HashMap::new();
        publish(&reporter, &mut last, &aggregator.report().await).await;
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = status.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                    () = tokio::time::sleep(refresh) => {}
                }
                publish(&reporter, &mut last, &aggregator.report().await).await;
            }
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
        });
        (service, GrpcHealthTask { task })
    }
}
