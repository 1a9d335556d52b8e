//! Operations on the PostgreSQL store: migrations from several nodes at once, a schema newer
//! than the library refused, expired sagas listed, finished ones pruned (parked ones kept).

use crate::pg::{Schema, execute, reachable, url};
use crate::saga_support::{finished, started, write_log};
use bulwark::saga::{Claim, OutcomeKind, PostgresStore, SagaId, SagaStore};
use std::time::Duration;

const TTL: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_opening_at_once_migrate_the_schema_once() {
    if !reachable() {
        return;
    }
    let schema = Schema::new("migrate");
    let opening: Vec<_> = (0..6)
        .map(|_| {
            let name = schema.name().to_owned();
            tokio::spawn(async move {
                PostgresStore::builder(&url())
                    .schema(name)
                    .max_connections(1)
                    .open()
                    .await
            })
        })
        .collect();
    for open in opening {
        open.await.unwrap().expect("every node opens the store");
    }
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let sql = format!("SELECT count(*) FROM {}.migrations", schema.name());
    let n: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_library_is_refused() {
    if !reachable() {
        return;
    }
    let schema = Schema::new("newer");
    drop(schema.store(TTL).await);
    execute(format!(
        "INSERT INTO {}.migrations (version) VALUES (99)",
        schema.name()
    ))
    .unwrap();
    let e = PostgresStore::builder(&url())
        .schema(schema.name())
        .open()
        .await
        .unwrap_err();
    let text = crate::saga_support::chain(&e);
    assert!(text.contains("schema version 99 is newer"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_schema_name_is_a_config_error() {
    let e = PostgresStore::builder(&url())
        .schema("drop table x;")
        .open()
        .await
        .unwrap_err();
    let source = std::error::Error::source(&e).unwrap();
    assert!(source.is::<bulwark::ConfigError>(), "{source}");
}

#[tokio::test(start_paused = true)]
async fn expired_sagas_are_listed_and_finished_ones_pruned_but_never_parked_ones() {
    if !reachable() {
        return;
    }
    let schema = Schema::new("ops");
    let store = schema.store(TTL).await;
    let claim = Claim::with_owner("node-a");
    let input = serde_json::json!(1);
    // A running saga whose holder stops renewing.
    store
        .append(&"run-1".into(), &started("ops", 1, input.clone()), &claim)
        .await
        .unwrap();
    write_log(
        &store,
        "done-1",
        &[
            started("ops", 1, input.clone()),
            finished(OutcomeKind::Completed),
        ],
    )
    .await;
    write_log(
        &store,
        "parked-1",
        &[
            started("ops", 1, input.clone()),
            finished(OutcomeKind::Parked),
        ],
    )
    .await;
    assert!(store.list_expired().await.unwrap().is_empty());
    tokio::time::advance(TTL + Duration::from_secs(3)).await;
    let expired = store.list_expired().await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, SagaId::new("run-1"));
    assert_eq!(expired[0].owner.as_deref(), Some("node-a"));
    assert_eq!(expired[0].expired_for, Duration::from_secs(3));

    assert_eq!(
        store
            .prune_finished(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.prune_finished(Duration::from_secs(1)).await.unwrap(),
        1
    );
    assert!(store.load(&"done-1".into()).await.unwrap().is_empty());
    assert_eq!(store.load(&"parked-1".into()).await.unwrap().len(), 2);
    assert_eq!(
        store.list_parked().await.unwrap(),
        [SagaId::new("parked-1")]
    );
    assert_eq!(
        store.list_unfinished().await.unwrap(),
        [SagaId::new("run-1")]
    );
}
