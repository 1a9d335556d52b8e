//! The SQLite store's thread: one connection, every statement, appends committed in groups.

use super::store::{LogEntry, SagaId, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::error::Error;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// At most this many requests are taken from the queue for one group commit.
const MAX_BATCH: usize = 256;
/// The layout below; recorded in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bulwark_sagas (
    id TEXT PRIMARY KEY NOT NULL,
    definition TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS bulwark_sagas_state ON bulwark_sagas (state, finished_ms);
CREATE TABLE IF NOT EXISTS bulwark_saga_log (
    position INTEGER PRIMARY KEY,
    saga TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bulwark_saga_log_saga ON bulwark_saga_log (saga, position);
";
/// The states of a finished saga that pruning may delete (never `parked`).
pub(crate) const PRUNABLE: &str =
    "state IN ('completed', 'compensated', 'resolved') AND finished_ms <= ?1";

/// What an append does to the saga's row besides adding the entry, and what it requires.
pub(crate) enum Change {
    /// A new saga: no row yet.
    Start { definition: String, version: u32 },
    /// A running saga's transition.
    Step,
    /// A running saga's outcome (`completed`, `compensated`, `parked`).
    Finish(&'static str),
    /// A parked saga, reopened.
    Reopen,
    /// A parked saga, resolved.
    Resolve,
}

pub(crate) struct Append {
    pub(crate) id: SagaId,
    pub(crate) entry: String,
    pub(crate) change: Change,
    pub(crate) reply: Reply<()>,
}

pub(crate) enum Op {
    Append(Append),
    Load(SagaId, Reply<Vec<LogEntry>>),
    List(&'static str, Reply<Vec<SagaId>>),
    Prune(i64, Reply<u64>),
}

/// A store failure: the file, what was being done, and the cause.
#[derive(Debug, Clone)]
struct Failure {
    path: Arc<str>,
    what: String,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sqlite saga store `{}`: {}", self.path, self.what)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    path: Arc<str>,
}

/// Milliseconds since the Unix epoch, by the wall clock (stored timestamps outlive the process).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Writer {
    /// Opens (or creates) the file: WAL mode, `synchronous = FULL`, the schema.
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let name: Arc<str> = path.display().to_string().into();
        let fail = |what: &str| {
            let name = name.clone();
            let what = what.to_owned();
            move |e: rusqlite::Error| failure(&name, what, Some(Arc::new(e)))
        };
        let conn = Connection::open(path).map_err(fail("cannot open the file"))?;
        conn.busy_timeout(busy_timeout)
            .map_err(fail("cannot set the busy timeout"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(fail("cannot switch to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let what = format!("cannot use WAL mode (the journal mode stays `{mode}`)");
            return Err(failure(&name, what, None));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail("cannot set synchronous = FULL"))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail("cannot read the schema version"))?;
        if version > SCHEMA_VERSION {
            let what = format!("schema version {version} is newer than this library's");
            return Err(failure(&name, what, None));
        }
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.pragma_update(None, "user_version", SCHEMA_VERSION))
            .map_err(fail("cannot create the tables"))?;
        Ok(Self { conn, path: name })
    }

    pub(crate) fn fail(
        &self,
        what: impl Into<String>,
        e: Option<Arc<dyn Error + Send + Sync>>,
    ) -> StoreError {
        failure(&self.path, what.into(), e)
    }

    pub(crate) fn sql(&self, what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        let what = what.to_owned();
        move |e| self.fail(what.clone(), Some(Arc::new(e)))
    }

    /// Serves requests until every handle is dropped. Appends waiting together are committed
    /// in one transaction (one fsync), then the reads run.
    pub(crate) fn serve(self, ops: Receiver<Op>) {
        while let Ok(first) = ops.recv() {
            let mut appends = Vec::new();
            let mut others = Vec::new();
            let mut next = Some(first);
            while let Some(op) = next.take() {
                match op {
                    Op::Append(append) => appends.push(append),
                    other => others.push(other),
                }
                if appends.len() + others.len() < MAX_BATCH {
                    next = ops.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                self.commit(appends);
            }
            for op in others {
                match op {
                    Op::Load(id, reply) => drop(reply.send(self.load(&id))),
                    Op::List(state, reply) => drop(reply.send(self.list(state))),
                    Op::Prune(before, reply) => drop(reply.send(self.prune(before))),
                    Op::Append(_) => {}
                }
            }
        }
    }

    /// One transaction for the whole group; each append in a savepoint, so one that is refused
    /// leaves nothing behind and does not fail the others. Replies only after the commit.
    fn commit(&self, batch: Vec<Append>) {
        if !self.conn.is_autocommit() {
            // A transaction left open by a failed rollback would fail every later group.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            return self.reply_all(batch, "cannot begin a transaction", e);
        }
        let now = now_ms();
        let results: Vec<_> = batch.iter().map(|a| self.apply(a, now)).collect();
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return self.reply_all(batch, "cannot commit the log entries", e);
        }
        for (append, result) in batch.into_iter().zip(results) {
            let _ = append.reply.send(result);
        }
    }

    /// Fails every append of a group with the same cause.
    fn reply_all(&self, batch: Vec<Append>, what: &str, e: rusqlite::Error) {
        let source: Arc<dyn Error + Send + Sync> = Arc::new(e);
        for append in batch {
            let e = self.fail(what, Some(source.clone()));
            let _ = append.reply.send(Err(e));
        }
    }

    fn apply(&self, a: &Append, now: i64) -> Result<(), StoreError> {
        let savepoint = self.sql("cannot write the log entry");
        self.conn
            .execute_batch("SAVEPOINT entry")
            .map_err(&savepoint)?;
        let result = self.write(a, now);
        let end = match result {
            Ok(()) => "RELEASE entry",
            Err(_) => "ROLLBACK TO entry; RELEASE entry",
        };
        self.conn.execute_batch(end).map_err(&savepoint)?;
        result
    }

    fn write(&self, a: &Append, now: i64) -> Result<(), StoreError> {
        let id = a.id.as_str();
        let state: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM bulwark_sagas WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())
            .map_err(self.sql("cannot read the saga's state"))?;
        let wrong = |wanted: &str| {
            let what = match &state {
                None => format!("no saga `{id}` in the store (its first entry must be `started`)"),
                Some(state) => format!("saga `{id}` is {state}, not {wanted}"),
            };
            Err(self.fail(what, None))
        };
        let set = |state: &str, finished: Option<i64>| {
            self.conn
                .prepare_cached(
                    "UPDATE bulwark_sagas SET state = ?2, finished_ms = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, state, finished]))
                .map_err(self.sql("cannot update the saga's state"))
        };
        match (&a.change, state.as_deref()) {
            (
                Change::Start {
                    definition,
                    version,
                },
                None,
            ) => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO bulwark_sagas (id, definition, version, state, created_ms)
                         VALUES (?1, ?2, ?3, 'running', ?4)",
                    )
                    .and_then(|mut s| s.execute(params![id, definition, version, now]))
                    .map_err(self.sql("cannot record the saga"))?;
            }
            (Change::Start { .. }, Some(_)) => {
                let what = format!("saga `{id}` is already in the store (an id is used once)");
                return Err(self.fail(what, None));
            }
            (Change::Step, Some("running")) => {}
            (Change::Finish(outcome), Some("running")) => drop(set(outcome, Some(now))?),
            (Change::Reopen, Some("parked")) => drop(set("running", None)?),
            (Change::Resolve, Some("parked")) => drop(set("resolved", Some(now))?),
            (Change::Step | Change::Finish(_), _) => return wrong("running"),
            (Change::Reopen | Change::Resolve, _) => return wrong("parked"),
        }
        self.conn
            .prepare_cached("INSERT INTO bulwark_saga_log (saga, entry) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id, a.entry]))
            .map_err(self.sql("cannot write the log entry"))?;
        Ok(())
    }
}

fn failure(
    path: &Arc<str>,
    what: String,
    source: Option<Arc<dyn Error + Send + Sync>>,
) -> StoreError {
    StoreError::new(Failure {
        path: path.clone(),
        what,
        source,
    })
}
