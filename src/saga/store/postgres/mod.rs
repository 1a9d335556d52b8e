//! The store for several nodes: saga logs in PostgreSQL (feature `postgres`).

mod error;
mod schema;
mod sql;
mod writer;

use super::claim::{Claim, Claimed, DEFAULT_CLAIM_TTL};
use super::{LogEntry, SagaId, SagaStore, StoreError, StoreFuture};
use crate::ConfigError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use error::{Failure, classify};
use sql::Sql;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use writer::token;

/// A durable [`SagaStore`] that several nodes share: every saga's log in PostgreSQL, each
/// append committed before its future resolves, and a lease on each running saga so that the
/// sagas of a node that died are taken over by a live one.
///
/// # Leases and fencing
///
/// A running saga is held by one run's [`Claim`] (owner, token, expiry): its lease. The run
/// renews it every third of the [claim's time to live](PostgresStoreBuilder::claim_ttl), and
/// every append renews it too. Every append is one statement that writes the entry only if the
/// saga is running and held by the append's claim, so a run that lost its lease (its process
/// paused or cut off past the expiry, and another node took the saga over) cannot write: its
/// next append is [refused](StoreError::is_refused), the run stops
/// ([`SagaError::Unsettled`](crate::saga::SagaError::Unsettled)) and runs nothing more. Each new
/// holder of a saga gets a greater [fencing number](Claim::fence) (1 for the run that started
/// it), which steps see as [`StepContext::fence`](crate::saga::StepContext::fence): a service that
/// remembers the greatest number it has seen for a saga refuses the stale run's request that was
/// already on its way. The store cannot stop such a request itself: a step that was running when
/// its process stalled goes on when the process wakes, until the run notices the lost lease. With
/// the check at the service, a saga's requests reach it one holder after another, never
/// interleaved (the crash test in `tests/saga_postgres_crash.rs` checks this with three
/// processes killed and stalled at random).
///
/// [`Registry::takeover`](crate::saga::Registry::takeover) claims the expired sagas on an interval
/// (`SELECT ... FOR UPDATE SKIP LOCKED`, so nodes taking over at once skip each other's rows)
/// and resumes them under their [`Resume`](crate::saga::Resume) policies.
///
/// # Time
///
/// A lease's expiry is a time in milliseconds in the database, and all nodes must read the
/// same clock: each handle reads the database server's clock when it opens, and from then on
/// adds the `tokio::time` elapsed since. So nodes' wall clocks may disagree, a wall-clock jump
/// changes nothing, and a paused `tokio` clock drives expiry in tests.
///
/// # Schema and migrations
///
/// The tables live in their own schema (`bulwark` by default, see
/// [`schema`](PostgresStoreBuilder::schema)): `sagas`, one row per saga with its state and
/// lease; `saga_log`, one row per entry as `jsonb`; `migrations`, the layout versions
/// applied. Opening the store creates or migrates them in one transaction under an advisory
/// lock, so nodes starting at once migrate once, and refuses a schema newer than the library.
///
/// # Errors
///
/// Every failure is a [`StoreError`] whose source names the schema, what was being done and
/// the cause. A write the server refused with an error wrote nothing ([`StoreError::new`]); a
/// write whose connection failed while it was in flight may have been committed, and says so
/// ([`StoreError::outcome_unknown`]); a check that failed (an id used twice, a saga not running,
/// a claim that does not hold the saga) is [`StoreError::refused`].
///
/// ```no_run
/// use bulwark::saga::{PostgresStore, Registry, Saga};
/// # use bulwark::BoxError;
/// # use bulwark::saga::Step;
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::builder("postgres://postgres@127.0.0.1:5432/test")
///     .schema("orders_sagas")
///     .open()
///     .await?;
/// let mut saga = Saga::<u32>::builder("greet").store(store.clone());
/// # saga.step(Step::new("hello", |ctx| async move { Ok::<_, BoxError>(ctx.input() + 1) }));
/// let saga = saga.build()?;
/// let mut registry = Registry::new(store.clone());
/// registry.register(&saga)?;
/// // Resume the sagas of nodes that died, every second, until stopped.
/// let takeover = registry.takeover(std::time::Duration::from_secs(1));
/// # takeover.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    schema: String,
    sql: Sql,
    claim_ttl: Duration,
    /// The database's clock (ms since the epoch) and `tokio::time` at opening.
    opened_ms: i64,
    opened: Instant,
}

/// Opens a [`PostgresStore`] with settings: [`PostgresStore::builder`].
#[derive(Clone)]
#[must_use]
pub struct PostgresStoreBuilder {
    url: String,
    schema: String,
    claim_ttl: Duration,
    max_connections: usize,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: not printed.
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("claim_ttl", &self.claim_ttl)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// The schema the store's tables live in (`bulwark` by default): lower-case ASCII letters,
    /// digits and `_`, not starting with a digit, at most 63 bytes. Created if missing.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How long a lease lasts without renewal ([`DEFAULT_CLAIM_TTL`], 10 s, by default): a
    /// node that dies leaves its sagas to the others this long after its last write or
    /// renewal. Every node sharing the schema should use the same. It must be well above the
    /// longest time a run may go unscheduled (a pause, a slow database), or runs lose their
    /// sagas (safely: they then cannot write).
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// The most connections the store's pool opens (16 by default).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Connects, and creates or migrates the tables (see [`PostgresStore`]).
    ///
    /// Fails if a setting is invalid (the URL, the schema's name, a zero pool or time to live:
    /// the source is a [`ConfigError`]), the server cannot be reached, or the schema is newer
    /// than this library's.
    pub async fn open(self) -> Result<PostgresStore, StoreError> {
        let invalid = |field: &'static str, reason: String| {
            StoreError::new(ConfigError::new("saga", field, reason))
        };
        if !schema::valid_schema(&self.schema) {
            return Err(invalid(
                "schema",
                format!(
                    "`{}` is not a schema name: lower-case letters, digits and `_`, not starting \
                     with a digit, at most 63 bytes",
                    self.schema
                ),
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1".into()));
        }
        if self.claim_ttl.is_zero() {
            return Err(invalid("claim_ttl", "must be more than zero".into()));
        }
        let config: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| invalid("url", format!("not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| {
                StoreError::new(Failure::pool(&self.schema, "cannot build the pool", e))
            })?;
        schema::migrate(&pool, &self.schema)
            .await
            .map_err(StoreError::new)?;
        let client = pool
            .get()
            .await
            .map_err(|e| StoreError::new(Failure::pool(&self.schema, "cannot connect", e)))?;
        let now = client
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .await
            .map_err(|e| classify(&self.schema, "cannot read the server's clock", e, false))?;
        let opened_ms: i64 = now.get(0);
        drop(client);
        Ok(PostgresStore {
            shared: Arc::new(Shared {
                pool,
                sql: Sql::new(&self.schema),
                schema: self.schema,
                claim_ttl: self.claim_ttl,
                opened_ms,
                opened: Instant::now(),
            }),
        })
    }
}

/// A running saga whose lease has expired (or that has none): its node died, stalled, or
/// released it; [`Registry::takeover`](crate::saga::Registry::takeover) resumes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpiredSaga {
    /// The saga's id.
    pub id: SagaId,
    /// Who held it last, if a lease was left.
    pub owner: Option<String>,
    /// How long ago the lease expired (zero if it was released).
    pub expired_for: Duration,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) with
    /// the default settings; see [`PostgresStoreBuilder::open`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).open().await
    }

    /// Settings for the store in the database at `url`.
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.to_owned(),
            schema: "bulwark".to_owned(),
            claim_ttl: DEFAULT_CLAIM_TTL,
            max_connections: 16,
        }
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// The running sagas whose lease has expired or was released, oldest first: the ones a
    /// [`Registry::takeover`](crate::saga::Registry::takeover) would resume now.
    pub async fn list_expired(&self) -> Result<Vec<ExpiredSaga>, StoreError> {
        let now = self.now_ms();
        let what = "cannot list the expired sagas";
        let rows = self
            .query(what, &self.shared.sql.expired, &[&now], false)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let expires: Option<i64> = row.get(2);
                let ago = expires.map_or(0, |e| now.saturating_sub(e));
                ExpiredSaga {
                    id: SagaId::from(row.get::<_, String>(0)),
                    owner: row.get(1),
                    expired_for: Duration::from_millis(u64::try_from(ago).unwrap_or(0)),
                }
            })
            .collect())
    }

    /// Deletes the sagas that completed, were compensated or were resolved more than
    /// `older_than` ago, with their logs; returns how many. Parked and running sagas are never
    /// pruned.
    pub async fn prune_finished(&self, older_than: Duration) -> Result<u64, StoreError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let before = self.now_ms().saturating_sub(age);
        let sql = &self.shared.sql.prune;
        self.write("cannot prune finished sagas", sql, &[&before])
            .await
    }

    /// The store's clock: the server's at opening plus the `tokio::time` elapsed since (ms).
    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.shared.opened.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.shared.opened_ms.saturating_add(elapsed)
    }

    /// When a lease taken or renewed now expires (ms).
    fn expiry_ms(&self) -> i64 {
        let ttl = i64::try_from(self.shared.claim_ttl.as_millis()).unwrap_or(i64::MAX);
        self.now_ms().saturating_add(ttl)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let schema = self.schema();
        self.shared
            .pool
            .get()
            .await
            .map_err(|e| StoreError::new(Failure::pool(schema, "cannot connect", e)))
    }

    async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        write: bool,
    ) -> Result<Vec<Row>, StoreError> {
        let schema = self.schema();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| classify(schema, what, e, false))?;
        client
            .query(&statement, params)
            .await
            .map_err(|e| classify(schema, what, e, write))
    }

    async fn query_opt(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let mut rows = self.query(what, sql, params, false).await?;
        Ok(rows.pop())
    }

    async fn load_log(&self, id: &SagaId) -> Result<Vec<LogEntry>, StoreError> {
        let what = "cannot read the saga's log";
        let rows = self
            .query(what, &self.shared.sql.load, &[&id.as_str()], false)
            .await?;
        rows.into_iter()
            .map(|row| {
                let (position, text): (i64, String) = (row.get(0), row.get(1));
                serde_json::from_str(&text).map_err(|e| {
                    let what = format!("saga `{id}`, log row {position}: not a saga log entry");
                    StoreError::new(Failure::pool(self.schema(), &what, e))
                })
            })
            .collect()
    }

    async fn list(&self, state: &str) -> Result<Vec<SagaId>, StoreError> {
        let what = "cannot list the sagas";
        let rows = self
            .query(what, &self.shared.sql.list, &[&state], false)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| SagaId::from(row.get::<_, String>(0)))
            .collect())
    }

    async fn fence_of(&self, id: &SagaId, claim: &Claim) -> Result<Option<u64>, StoreError> {
        let what = "cannot read the saga's fence";
        let params: [&(dyn ToSql + Sync); 3] = [&id.as_str(), &claim.owner(), &token(claim)];
        let row = self
            .query_opt(what, &self.shared.sql.fence, &params)
            .await?;
        Ok(row.map(|row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)))
    }
}

impl SagaStore for PostgresStore {
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.append_entry(id, entry, claim))
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        Box::pin(self.load_log(id))
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        Box::pin(self.list("running"))
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        Box::pin(self.list("parked"))
    }

    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed> {
        Box::pin(self.claim_saga(id, claim))
    }

    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 4] = [
                &id.as_str(),
                &claim.owner(),
                &token(claim),
                &self.expiry_ms(),
            ];
            let sql = &self.shared.sql.renew;
            Ok(self.write("cannot renew the lease", sql, &params).await? == 1)
        })
    }

    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 3] = [&id.as_str(), &claim.owner(), &token(claim)];
            let sql = &self.shared.sql.release;
            self.write("cannot release the lease", sql, &params)
                .await
                .map(drop)
        })
    }

    fn claim_ttl(&self) -> Duration {
        self.shared.claim_ttl
    }

    fn claim_expired<'a>(
        &'a self,
        owner: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(SagaId, Claim)>> {
        Box::pin(self.claim_expired_sagas(owner, limit))
    }

    fn fences(&self) -> bool {
        true
    }

    fn fence<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Option<u64>> {
        Box::pin(self.fence_of(id, claim))
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.shared.schema)
            .field("claim_ttl", &self.shared.claim_ttl)
            .finish_non_exhaustive()
    }
}
