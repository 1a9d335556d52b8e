//! The SQLite store's writes to one saga: an append checked against the saga's row (its state
//! and the claim holding it), and the claims themselves; each runs in its savepoint of the
//! group's transaction.

use super::StoreError;
use super::claim::Claimed;
use super::sqlite_writer::{Change, Write, Writer};
use rusqlite::{OptionalExtension, params};
use std::time::Duration;

impl Writer {
    pub(crate) fn append(
        &self,
        w: &Write,
        entry: &str,
        change: &Change,
        now: i64,
    ) -> Result<(), StoreError> {
        let id = w.id.as_str();
        let row = self.row(id)?;
        let state = row.as_ref().map(|r| r.state.as_str());
        let refuse = |what: String| Err(self.refuse(what));
        let wrong = |wanted: &str| {
            refuse(match state {
                None => format!("no saga `{id}` in the store (its first entry must be `started`)"),
                Some(state) => format!("saga `{id}` is {state}, not {wanted}"),
            })
        };
        let set = |state: &str, finished: Option<i64>| {
            self.conn
                .prepare_cached(
                    "UPDATE bulwark_sagas SET state = ?2, finished_ms = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, state, finished]))
                .map(drop)
                .map_err(self.sql("cannot update the saga's state"))
        };
        let expires = w.now.saturating_add(w.ttl);
        let held = row.as_ref().is_some_and(|r| r.held_by(&w.owner, w.token));
        match (change, state) {
            (
                Change::Start {
                    definition,
                    version,
                },
                None,
            ) => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO bulwark_sagas
                         (id, definition, version, state, created_ms, claim_owner, claim_token, claim_expires_ms)
                         VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![id, definition, version, now, w.owner, w.token, expires])
                    })
                    .map_err(self.sql("cannot record the saga"))?;
            }
            (Change::Start { .. }, Some(_)) => {
                return refuse(format!(
                    "saga `{id}` is already in the store (an id is used once)"
                ));
            }
            (Change::Step | Change::Finish(_), Some("running")) if !held => {
                return refuse(format!(
                    "saga `{id}` is not held by the claim {} #{:x}",
                    w.owner, w.token as u64
                ));
            }
            (Change::Step, Some("running")) => {
                self.set_claim(id, Some((&w.owner, w.token, expires)))?
            }
            (Change::Finish(outcome), Some("running")) => {
                set(outcome, Some(now))?;
                self.set_claim(id, None)?;
            }
            (Change::Reopen, Some("parked")) => {
                set("running", None)?;
                self.set_claim(id, Some((&w.owner, w.token, expires)))?;
            }
            (Change::Resolve, Some("parked")) => set("resolved", Some(now))?,
            (Change::Step | Change::Finish(_), _) => return wrong("running"),
            (Change::Reopen | Change::Resolve, _) => return wrong("parked"),
        }
        self.conn
            .prepare_cached("INSERT INTO bulwark_saga_log (saga, entry) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id, entry]))
            .map_err(self.sql("cannot write the log entry"))?;
        Ok(())
    }

    /// The saga's state and the claim holding it, if it has a row.
    pub(crate) fn row(&self, id: &str) -> Result<Option<Row>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT state, claim_owner, claim_token, claim_expires_ms
                 FROM bulwark_sagas WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |row| {
                    Ok(Row {
                        state: row.get(0)?,
                        owner: row.get(1)?,
                        token: row.get(2)?,
                        expires: row.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(self.sql("cannot read the saga's state"))
    }

    /// Sets the saga's claim (owner, token, expiry), or clears it.
    pub(crate) fn set_claim(
        &self,
        id: &str,
        claim: Option<(&str, i64, i64)>,
    ) -> Result<(), StoreError> {
        let (owner, token, expires) =
            claim.map_or((None, None, None), |(o, t, e)| (Some(o), Some(t), Some(e)));
        self.conn
            .prepare_cached(
                "UPDATE bulwark_sagas SET claim_owner = ?2, claim_token = ?3, claim_expires_ms = ?4
                 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, owner, token, expires]))
            .map(drop)
            .map_err(self.sql("cannot update the saga's claim"))
    }

    pub(crate) fn claim(&self, w: &Write) -> Result<Claimed, StoreError> {
        let id = w.id.as_str();
        let Some(row) = self.row(id)?.filter(|r| r.state == "running") else {
            return Ok(Claimed::NotRunning);
        };
        if let (Some(owner), Some(expires)) = (&row.owner, row.expires)
            && expires > w.now
            && !row.held_by(&w.owner, w.token)
        {
            let left = u64::try_from(expires - w.now).unwrap_or(0);
            return Ok(Claimed::Held {
                owner: owner.clone(),
                expires_in: Duration::from_millis(left),
            });
        }
        let expires = w.now.saturating_add(w.ttl);
        self.set_claim(id, Some((&w.owner, w.token, expires)))?;
        Ok(Claimed::Granted)
    }

    pub(crate) fn renew(&self, w: &Write) -> Result<bool, StoreError> {
        let id = w.id.as_str();
        match self.row(id)? {
            Some(row) if row.state == "running" && row.held_by(&w.owner, w.token) => {
                let expires = w.now.saturating_add(w.ttl);
                self.set_claim(id, Some((&w.owner, w.token, expires)))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(crate) fn release(&self, w: &Write) -> Result<(), StoreError> {
        let id = w.id.as_str();
        match self.row(id)? {
            Some(row) if row.held_by(&w.owner, w.token) => self.set_claim(id, None),
            _ => Ok(()),
        }
    }
}

/// A saga's row: its state and the claim holding it.
pub(crate) struct Row {
    pub(crate) state: String,
    owner: Option<String>,
    token: Option<i64>,
    expires: Option<i64>,
}

impl Row {
    pub(crate) fn held_by(&self, owner: &str, token: i64) -> bool {
        self.owner.as_deref() == Some(owner) && self.token == Some(token)
    }
}
