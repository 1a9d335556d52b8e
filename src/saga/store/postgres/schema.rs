//! The PostgreSQL store's tables, created and migrated by the store itself: versioned, under an
//! advisory lock, so that several nodes starting at once migrate the schema once.

use super::error::Failure;
use deadpool_postgres::Pool;

/// The migrations, in order: migration `n` (from 1) is `MIGRATIONS[n - 1]`. A new layout is a
/// new entry at the end; an entry, once released, never changes. `{s}` stands for the schema.
pub(super) const MIGRATIONS: &[&str] = &["
CREATE TABLE {s}.sagas (
    id text PRIMARY KEY,
    definition text NOT NULL,
    version integer NOT NULL,
    state text NOT NULL,
    created_ms bigint NOT NULL,
    finished_ms bigint,
    claim_owner text,
    claim_token bigint,
    claim_expires_ms bigint,
    fence bigint NOT NULL DEFAULT 1
);
CREATE INDEX sagas_running ON {s}.sagas (claim_expires_ms, created_ms) WHERE state = 'running';
CREATE INDEX sagas_state ON {s}.sagas (state, finished_ms);
CREATE TABLE {s}.saga_log (
    position bigserial PRIMARY KEY,
    saga text NOT NULL REFERENCES {s}.sagas (id) ON DELETE CASCADE,
    entry jsonb NOT NULL
);
CREATE INDEX saga_log_saga ON {s}.saga_log (saga, position);
"];

/// Whether `name` can be a schema name as it is, unquoted: lower-case ASCII letters, digits and
/// `_`, not starting with a digit, at most 63 bytes (PostgreSQL's limit).
pub(super) fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

/// Creates the schema and its tables, or brings them up to date: in one transaction, under a
/// transaction-level advisory lock keyed by the schema's name. Fails if the schema records a
/// migration newer than this library's.
pub(super) async fn migrate(pool: &Pool, schema: &str) -> Result<(), Failure> {
    let fail = |what: &'static str| move |e| Failure::new(schema, what, Some(e));
    let mut client = pool
        .get()
        .await
        .map_err(|e| Failure::pool(schema, "cannot connect", e))?;
    let tx = client
        .transaction()
        .await
        .map_err(fail("cannot begin the migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("bulwark saga store {schema}")],
    )
    .await
    .map_err(fail("cannot take the migration lock"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.migrations (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(fail("cannot create the schema"))?;
    let row = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.migrations"),
            &[],
        )
        .await
        .map_err(fail("cannot read the schema's version"))?;
    let applied: i32 = row.get(0);
    let latest = MIGRATIONS.len() as i32;
    if applied > latest {
        let what = format!("schema version {applied} is newer than this library's ({latest})");
        return Err(Failure::new(schema, what, None));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.batch_execute(&sql.replace("{s}", schema))
            .await
            .map_err(fail("cannot migrate the tables"))?;
        tx.execute(
            &format!("INSERT INTO {schema}.migrations (version) VALUES ($1)"),
            &[&(version as i32 + 1)],
        )
        .await
        .map_err(fail("cannot record the migration"))?;
    }
    tx.commit()
        .await
        .map_err(fail("cannot commit the migration"))
}
