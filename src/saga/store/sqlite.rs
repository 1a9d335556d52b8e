//! The durable store: saga logs in an SQLite file (feature `sqlite`).

use super::claim::{Claim, Claimed, DEFAULT_CLAIM_TTL};
use super::sqlite_writer::{Change, Op, Reply, Write, WriteKind, Writer, now_ms};
use super::{LogEntry, OutcomeKind, SagaId, SagaStore, StoreError, StoreFuture};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A durable [`SagaStore`]: every saga's log in an SQLite file, in WAL mode, each append
/// on disk (`synchronous = FULL`, so fsynced) before its future resolves.
///
/// SQLite calls block, so they never run on the async threads: the store owns one thread with
/// one connection, and the async methods send it requests over a channel. Appends that wait
/// together (from concurrent sagas) are committed in one transaction: one fsync for the
/// group, each append in its own savepoint so a refused one leaves nothing behind.
///
/// The tables (`bulwark_sagas`, one row per saga with its state and the claim holding it;
/// `bulwark_saga_log`, one row per entry as JSON) can share a file with an application's own.
/// An append is checked against the saga's row in the same transaction (the
/// [`SagaStore`] contract): a second `started` for an id, a transition for a saga that is not
/// running, or one written under a claim that does not hold the saga, is refused. Finished
/// sagas stay until [`prune_finished`](Self::prune_finished) deletes them; parked ones stay until
/// an operator resolves them (see [`Registry`](crate::saga::Registry)).
///
/// Several handles (in one process or several) can share a file: each is a connection, and
/// claims keep two of them from running one saga. A claim's expiry is a wall-clock time in the
/// file; each handle reads the time as the wall clock at its opening plus the `tokio::time`
/// elapsed since, so a paused clock drives expiry in tests and a wall-clock jump does not.
///
/// Cheap to clone: clones share the thread, which stops when the last clone is dropped.
///
/// # Durability
///
/// `synchronous = FULL`: a commit returns once the WAL is fsynced. In WAL mode, `NORMAL` would
/// skip that fsync: it survives a killed process (the OS has the data) but a power cut can lose
/// the last commits, and with them the record that an action started, after the action ran.
/// The log's rule is that the start is durable before the action runs, so the store pays one
/// fsync per commit, and shares it: appends from concurrent sagas that wait while a commit is
/// under way go into the next commit together. One saga alone pays about two fsyncs per step
/// (its start and its completion); many sagas in flight pay far less each.
///
/// # Errors
///
/// Every failure is a [`StoreError`] whose source names the file, what was being done and the
/// cause: the file cannot be opened or is not a database, the database stays locked by another
/// connection beyond the [busy timeout](SqliteStoreBuilder::busy_timeout), the disk is full, a
/// row does not read as a log entry. An append that fails writes nothing (each is a savepoint
/// within its group's transaction), and says so ([`StoreError::new`], or
/// [`StoreError::refused`] when the saga's row refused it); only a commit that fails for another
/// reason than a lock (an I/O error, a full disk) may have been written, and says that
/// ([`StoreError::outcome_unknown`]). The saga's run then stops (see
/// [`SagaError::Unsettled`](crate::saga::SagaError::Unsettled)).
///
/// ```
/// use std::time::Duration;
/// use bulwark::BoxError;
/// use bulwark::saga::{Saga, SagaStore, SqliteStore, Step};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("sagas.db");
/// let store = SqliteStore::open(&path).await?;
/// let mut saga = Saga::<u32>::builder("greet").store(store.clone());
/// saga.step(Step::new("hello", |ctx| async move { Ok::<_, BoxError>(ctx.input() + 1) }));
/// let saga = saga.build()?;
///
/// let _ = saga.run_with_id("order-7", 41).await?;
/// // started, step started, step completed, finished
/// assert_eq!(store.load(&"order-7".into()).await?.len(), 4);
///
/// // Retention: forget what finished more than a week ago.
/// store.prune_finished(Duration::from_secs(7 * 24 * 3600)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    ops: mpsc::Sender<Op>,
    claim_ttl: Duration,
    /// The wall clock (ms since the epoch) and `tokio::time` at opening: the store's clock.
    opened_ms: i64,
    opened: Instant,
}

/// Opens a [`SqliteStore`] with settings: [`SqliteStore::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct SqliteStoreBuilder {
    path: PathBuf,
    busy_timeout: Duration,
    claim_ttl: Duration,
}

impl SqliteStoreBuilder {
    /// How long a statement waits for a lock held by another connection to the file before it
    /// fails with "database is locked" (5 s by default).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long a claim written through this handle lasts without renewal
    /// ([`DEFAULT_CLAIM_TTL`], 10 s, by default): a process that dies leaves its sagas to other
    /// handles' recovery this long after its last write. Longer means fewer renewals and a
    /// longer wait after a crash; it must be well above the time a run may go without being
    /// scheduled, or a stalled run loses its sagas (safely: it then cannot write).
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// Opens (or creates) the file, switches it to WAL mode and creates the tables if needed.
    ///
    /// Fails if the file cannot be opened or is not an SQLite database, cannot use WAL mode, or
    /// holds a newer schema than this library's.
    pub async fn open(self) -> Result<SqliteStore, StoreError> {
        let (ready, opened) = oneshot::channel();
        let (ops, requests) = mpsc::channel();
        let path = self.path.clone();
        let busy_timeout = self.busy_timeout;
        std::thread::Builder::new()
            .name("bulwark-saga-sqlite".into())
            .spawn(move || match Writer::open(&path, busy_timeout) {
                Ok(writer) => {
                    if ready.send(Ok(())).is_ok() {
                        writer.serve(requests);
                    }
                }
                Err(e) => drop(ready.send(Err(e))),
            })
            .map_err(StoreError::new)?;
        opened.await.map_err(|_| stopped())??;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path: self.path,
                ops,
                claim_ttl: self.claim_ttl,
                opened_ms: now_ms(),
                opened: Instant::now(),
            }),
        })
    }
}

fn stopped() -> StoreError {
    StoreError::new("the sqlite saga store's thread has stopped")
}

impl SqliteStore {
    /// Opens (or creates) the store in the file at `path`, with the default settings; see
    /// [`SqliteStoreBuilder::open`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).open().await
    }

    /// Settings for opening the store in the file at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: path.as_ref().to_owned(),
            busy_timeout: Duration::from_secs(5),
            claim_ttl: DEFAULT_CLAIM_TTL,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Deletes the sagas that completed, were compensated or were resolved more than
    /// `older_than` ago (by the wall clock), with their logs; returns how many. Parked and
    /// unfinished sagas are never pruned.
    pub async fn prune_finished(&self, older_than: Duration) -> Result<u64, StoreError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let before = now_ms().saturating_sub(age);
        self.call(|reply| Op::Prune(before, reply)).await
    }

    async fn call<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.shared.ops.send(op(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// A write under `claim`, timed by this handle's clock.
    async fn write<T>(
        &self,
        id: &SagaId,
        claim: &Claim,
        kind: impl FnOnce(Reply<T>) -> WriteKind,
    ) -> Result<T, StoreError> {
        let ttl = i64::try_from(self.shared.claim_ttl.as_millis()).unwrap_or(i64::MAX);
        let elapsed = i64::try_from(self.shared.opened.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = self.shared.opened_ms.saturating_add(elapsed);
        self.call(|reply| {
            Op::Write(Write {
                id: id.clone(),
                owner: claim.owner().to_owned(),
                // Stored as SQLite's signed integer, bit for bit.
                token: claim.token() as i64,
                now,
                ttl,
                kind: kind(reply),
            })
        })
        .await
    }
}

impl SagaStore for SqliteStore {
    fn append<'a>(
        &'a self,
        id: &'a SagaId,
        entry: &'a LogEntry,
        claim: &'a Claim,
    ) -> StoreFuture<'a, ()> {
        let change = match entry {
            LogEntry::Started {
                definition,
                version,
                ..
            } => Change::Start {
                definition: definition.to_string(),
                version: *version,
            },
            LogEntry::Finished { outcome } => Change::Finish(match outcome {
                OutcomeKind::Completed => "completed",
                OutcomeKind::Compensated => "compensated",
                OutcomeKind::Parked => "parked",
            }),
            LogEntry::Reopened { .. } => Change::Reopen,
            LogEntry::Resolved { .. } => Change::Resolve,
            _ => Change::Step,
        };
        let entry = serde_json::to_string(entry);
        Box::pin(async move {
            let entry = entry.map_err(StoreError::new)?;
            self.write(id, claim, |reply| WriteKind::Append {
                entry,
                change,
                reply,
            })
            .await
        })
    }

    fn load<'a>(&'a self, id: &'a SagaId) -> StoreFuture<'a, Vec<LogEntry>> {
        Box::pin(self.call(|reply| Op::Load(id.clone(), reply)))
    }

    fn list_unfinished(&self) -> StoreFuture<'_, Vec<SagaId>> {
        Box::pin(self.call(|reply| Op::List("running", reply)))
    }

    fn list_parked(&self) -> StoreFuture<'_, Vec<SagaId>> {
        Box::pin(self.call(|reply| Op::List("parked", reply)))
    }

    fn claim<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, Claimed> {
        Box::pin(self.write(id, claim, WriteKind::Claim))
    }

    fn renew<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, bool> {
        Box::pin(self.write(id, claim, WriteKind::Renew))
    }

    fn release<'a>(&'a self, id: &'a SagaId, claim: &'a Claim) -> StoreFuture<'a, ()> {
        Box::pin(self.write(id, claim, WriteKind::Release))
    }

    fn claim_ttl(&self) -> Duration {
        self.shared.claim_ttl
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .field("claim_ttl", &self.shared.claim_ttl)
            .finish()
    }
}
