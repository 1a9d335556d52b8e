//! The SQLite store's thread: one connection, every statement, appends committed in groups.

use super::claim::Claimed;
use super::{LogEntry, SagaId, StoreError};
use rusqlite::{Connection, ErrorCode};
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
const SCHEMA_VERSION: i64 = 2;
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bulwark_sagas (
    id TEXT PRIMARY KEY NOT NULL,
    definition TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    claim_owner TEXT,
    claim_token INTEGER,
    claim_expires_ms INTEGER
);
CREATE INDEX IF NOT EXISTS bulwark_sagas_state ON bulwark_sagas (state, finished_ms);
CREATE TABLE IF NOT EXISTS bulwark_saga_log (
    position INTEGER PRIMARY KEY,
    saga TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bulwark_saga_log_saga ON bulwark_saga_log (saga, position);
";
/// From version 1 (no claims) to 2.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE bulwark_sagas ADD COLUMN claim_owner TEXT;
ALTER TABLE bulwark_sagas ADD COLUMN claim_token INTEGER;
ALTER TABLE bulwark_sagas ADD COLUMN claim_expires_ms INTEGER;
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

/// A write to one saga's row, under a claim, at the writing handle's time (ms).
pub(crate) struct Write {
    pub(crate) id: SagaId,
    pub(crate) owner: String,
    pub(crate) token: i64,
    pub(crate) now: i64,
    pub(crate) ttl: i64,
    pub(crate) kind: WriteKind,
}

pub(crate) enum WriteKind {
    Append {
        entry: String,
        change: Change,
        reply: Reply<()>,
    },
    Claim(Reply<Claimed>),
    Renew(Reply<bool>),
    Release(Reply<()>),
}

/// What a write did, before its group's commit; sent to its reply after.
enum Done {
    Unit,
    Claimed(Claimed),
    Renewed(bool),
}

impl Write {
    /// Answers the request, once its group committed (or failed).
    fn reply(self, result: Result<Done, StoreError>) {
        match self.kind {
            WriteKind::Append { reply, .. } | WriteKind::Release(reply) => {
                drop(reply.send(result.map(drop)))
            }
            WriteKind::Claim(reply) => drop(reply.send(result.map(|done| match done {
                Done::Claimed(claimed) => claimed,
                _ => Claimed::NotRunning,
            }))),
            WriteKind::Renew(reply) => {
                drop(reply.send(result.map(|done| matches!(done, Done::Renewed(true)))))
            }
        }
    }
}

pub(crate) enum Op {
    Write(Write),
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
        // One transaction, so that handles opening the file at once migrate it once.
        let setup = || -> Result<Option<i64>, rusqlite::Error> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
            if version > SCHEMA_VERSION {
                conn.execute_batch("ROLLBACK")?;
                return Ok(Some(version));
            }
            if version == 1 {
                conn.execute_batch(MIGRATE_1_TO_2)?;
            }
            conn.execute_batch(SCHEMA)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            conn.execute_batch("COMMIT")?;
            Ok(None)
        };
        match setup() {
            Ok(None) => {}
            Ok(Some(version)) => {
                let what = format!("schema version {version} is newer than this library's");
                return Err(failure(&name, what, None));
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(fail("cannot create or migrate the tables")(e));
            }
        }
        Ok(Self { conn, path: name })
    }

    pub(crate) fn fail(
        &self,
        what: impl Into<String>,
        e: Option<Arc<dyn Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::new(self.failure(what, e))
    }

    fn failure(&self, what: impl Into<String>, e: Option<Arc<dyn Error + Send + Sync>>) -> Failure {
        Failure {
            path: self.path.clone(),
            what: what.into(),
            source: e,
        }
    }

    pub(crate) fn sql(&self, what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        let what = what.to_owned();
        move |e| self.fail(what.clone(), Some(Arc::new(e)))
    }

    /// Serves requests until every handle is dropped. Appends waiting together are committed
    /// in one transaction (one fsync), then the reads run.
    pub(crate) fn serve(self, ops: Receiver<Op>) {
        while let Ok(first) = ops.recv() {
            let mut writes = Vec::new();
            let mut others = Vec::new();
            let mut next = Some(first);
            while let Some(op) = next.take() {
                match op {
                    Op::Write(write) => writes.push(write),
                    other => others.push(other),
                }
                if writes.len() + others.len() < MAX_BATCH {
                    next = ops.try_recv().ok();
                }
            }
            if !writes.is_empty() {
                self.commit(writes);
            }
            for op in others {
                match op {
                    Op::Load(id, reply) => drop(reply.send(self.load(&id))),
                    Op::List(state, reply) => drop(reply.send(self.list(state))),
                    Op::Prune(before, reply) => drop(reply.send(self.prune(before))),
                    Op::Write(_) => {}
                }
            }
        }
    }

    /// One transaction for the whole group; each write in a savepoint, so one that is refused
    /// leaves nothing behind and does not fail the others. Replies only after the commit.
    fn commit(&self, batch: Vec<Write>) {
        if !self.conn.is_autocommit() {
            // A transaction left open by a failed rollback would fail every later group.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            return self.reply_all(batch, "cannot begin a transaction", e, StoreError::new);
        }
        let now = now_ms();
        let results: Vec<_> = batch.iter().map(|w| self.apply(w, now)).collect();
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            // A busy or locked database refuses the commit before writing it; any other failure
            // (I/O, a full disk) may come after the WAL frames were written.
            let busy = matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            );
            let kind = if busy {
                StoreError::new
            } else {
                StoreError::outcome_unknown
            };
            return self.reply_all(batch, "cannot commit the log entries", e, kind);
        }
        for (write, result) in batch.into_iter().zip(results) {
            write.reply(result);
        }
    }

    /// Fails every write of a group with the same cause.
    fn reply_all(
        &self,
        batch: Vec<Write>,
        what: &str,
        e: rusqlite::Error,
        kind: fn(Failure) -> StoreError,
    ) {
        let source: Arc<dyn Error + Send + Sync> = Arc::new(e);
        for write in batch {
            let e = self.failure(what, Some(source.clone()));
            write.reply(Err(kind(e)));
        }
    }

    fn apply(&self, w: &Write, now: i64) -> Result<Done, StoreError> {
        let savepoint = self.sql("cannot write the log entry");
        self.conn
            .execute_batch("SAVEPOINT entry")
            .map_err(&savepoint)?;
        let result = match &w.kind {
            WriteKind::Append { entry, change, .. } => {
                self.append(w, entry, change, now).map(|()| Done::Unit)
            }
            WriteKind::Claim(_) => self.claim(w).map(Done::Claimed),
            WriteKind::Renew(_) => self.renew(w).map(Done::Renewed),
            WriteKind::Release(_) => self.release(w).map(|()| Done::Unit),
        };
        let end = match result {
            Ok(_) => "RELEASE entry",
            Err(_) => "ROLLBACK TO entry; RELEASE entry",
        };
        self.conn.execute_batch(end).map_err(&savepoint)?;
        result
    }

    pub(crate) fn refuse(&self, what: String) -> StoreError {
        StoreError::refused(self.failure(what, None))
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
