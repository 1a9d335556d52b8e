//! The SQLite store's reads and pruning, on its thread.

use super::sqlite_writer::{PRUNABLE, Writer};
use super::{LogEntry, SagaId, StoreError};
use std::sync::Arc;

impl Writer {
    pub(crate) fn load(&self, id: &SagaId) -> Result<Vec<LogEntry>, StoreError> {
        let read = self.sql("cannot read the saga's log");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT position, entry FROM bulwark_saga_log WHERE saga = ?1 ORDER BY position",
            )
            .map_err(&read)?;
        let rows = stmt
            .query_map([id.as_str()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(&read)?;
        let mut log = Vec::new();
        for row in rows {
            let (position, text) = row.map_err(&read)?;
            let entry = serde_json::from_str(&text).map_err(|e| {
                let what = format!("saga `{id}`, log row {position}: not a saga log entry");
                self.fail(what, Some(Arc::new(e)))
            })?;
            log.push(entry);
        }
        Ok(log)
    }

    pub(crate) fn list(&self, state: &str) -> Result<Vec<SagaId>, StoreError> {
        let read = self.sql("cannot list the sagas");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM bulwark_sagas WHERE state = ?1 ORDER BY created_ms, id")
            .map_err(&read)?;
        let rows = stmt
            .query_map([state], |row| row.get::<_, String>(0))
            .map_err(&read)?;
        rows.map(|id| id.map(SagaId::from).map_err(&read)).collect()
    }

    /// Deletes the finished sagas (not parked ones) that finished before `before` (ms).
    pub(crate) fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let prune = self.sql("cannot prune finished sagas");
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(&prune)?;
        let deleted = self
            .conn
            .execute(
                &format!(
                    "DELETE FROM bulwark_saga_log WHERE saga IN
                     (SELECT id FROM bulwark_sagas WHERE {PRUNABLE})"
                ),
                [before],
            )
            .and_then(|_| {
                self.conn.execute(
                    &format!("DELETE FROM bulwark_sagas WHERE {PRUNABLE}"),
                    [before],
                )
            })
            .and_then(|n| self.conn.execute_batch("COMMIT").map(|()| n));
        match deleted {
            Ok(n) => Ok(n as u64),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(prune(e))
            }
        }
    }
}
