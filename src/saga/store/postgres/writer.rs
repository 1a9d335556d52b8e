//! The PostgreSQL store's writes to one saga: each one statement, checked in the statement that
//! writes it; and, when a write is refused, why.

use super::PostgresStore;
use super::error::{Failure, classify};
use crate::saga::store::{Claim, Claimed};
use crate::saga::store::{LogEntry, OutcomeKind, SagaId, StoreError};
use std::time::Duration;
use tokio_postgres::types::ToSql;

/// A claim's token as PostgreSQL's signed `bigint`, bit for bit.
pub(super) fn token(claim: &Claim) -> i64 {
    claim.token() as i64
}

impl PostgresStore {
    /// Runs write `sql` with `params`; the number of rows it wrote.
    pub(super) async fn write(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let schema = self.schema();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| classify(schema, what, e, false))?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| classify(schema, what, e, true))
    }

    pub(super) async fn append_entry(
        &self,
        id: &SagaId,
        entry: &LogEntry,
        claim: &Claim,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(entry).map_err(StoreError::new)?;
        let sql = &self.shared.sql;
        let (now, expires) = (self.now_ms(), self.expiry_ms());
        let (owner, token) = (claim.owner(), token(claim));
        let what = "cannot write the log entry";
        let written = match entry {
            LogEntry::Started {
                definition,
                version,
                ..
            } => {
                let version = i32::try_from(*version).unwrap_or(i32::MAX);
                let definition: &str = definition;
                let params: [&(dyn ToSql + Sync); 8] = [
                    &id.as_str(),
                    &definition,
                    &version,
                    &now,
                    &owner,
                    &token,
                    &expires,
                    &json,
                ];
                self.write(what, &sql.start, &params).await?
            }
            LogEntry::Finished { outcome } => {
                let outcome = match outcome {
                    OutcomeKind::Completed => "completed",
                    OutcomeKind::Compensated => "compensated",
                    OutcomeKind::Parked => "parked",
                };
                let params: [&(dyn ToSql + Sync); 6] =
                    [&id.as_str(), &owner, &token, &now, &json, &outcome];
                self.write(what, &sql.finish, &params).await?
            }
            LogEntry::Reopened { .. } => {
                let params: [&(dyn ToSql + Sync); 5] =
                    [&id.as_str(), &owner, &token, &expires, &json];
                self.write(what, &sql.reopen, &params).await?
            }
            LogEntry::Resolved { .. } => {
                let params: [&(dyn ToSql + Sync); 3] = [&id.as_str(), &now, &json];
                self.write(what, &sql.resolve, &params).await?
            }
            _ => {
                let params: [&(dyn ToSql + Sync); 5] =
                    [&id.as_str(), &owner, &token, &expires, &json];
                self.write(what, &sql.step, &params).await?
            }
        };
        if written == 1 {
            return Ok(());
        }
        Err(self.refusal(id, entry, claim).await)
    }

    /// Why the append of `entry` under `claim` was refused, read after the refusal: the saga's
    /// row, as it is now, says which check failed.
    async fn refusal(&self, id: &SagaId, entry: &LogEntry, claim: &Claim) -> StoreError {
        let refuse = |what: String| StoreError::refused(Failure::new(self.schema(), what, None));
        if let LogEntry::Started { .. } = entry {
            return refuse(format!(
                "saga `{id}` is already in the store (an id is used once)"
            ));
        }
        let row = match self.row(id).await {
            Ok(row) => row,
            Err(e) => return e,
        };
        let wanted = match entry {
            LogEntry::Reopened { .. } | LogEntry::Resolved { .. } => "parked",
            _ => "running",
        };
        refuse(match row {
            None => format!("no saga `{id}` in the store (its first entry must be `started`)"),
            Some(row) if row.state == "running" && wanted == "running" => format!(
                "saga `{id}` is not held by the claim {} #{:x}{}",
                claim.owner(),
                claim.token(),
                match row.owner {
                    Some(owner) => format!(" (it is held by {owner})"),
                    None => String::new(),
                }
            ),
            Some(row) => format!("saga `{id}` is {}, not {wanted}", row.state),
        })
    }

    /// The saga's state and the claim holding it, if it has a row.
    pub(super) async fn row(&self, id: &SagaId) -> Result<Option<Row>, StoreError> {
        let what = "cannot read the saga's state";
        let row = self
            .query_opt(what, &self.shared.sql.state, &[&id.as_str()])
            .await?;
        Ok(row.map(|row| Row {
            state: row.get(0),
            owner: row.get(1),
            expires: row.get(3),
        }))
    }

    pub(super) async fn claim_saga(
        &self,
        id: &SagaId,
        claim: &Claim,
    ) -> Result<Claimed, StoreError> {
        // The claim is decided in one statement; if it is not granted, the row says why. A row
        // that changed in between (its holder expired, or released it) is tried again.
        for _ in 0..3 {
            let (now, expires) = (self.now_ms(), self.expiry_ms());
            let params: [&(dyn ToSql + Sync); 5] =
                [&id.as_str(), &claim.owner(), &token(claim), &now, &expires];
            let sql = &self.shared.sql.claim;
            if self.write("cannot claim the saga", sql, &params).await? == 1 {
                return Ok(Claimed::Granted);
            }
            match self.row(id).await? {
                Some(Row {
                    state,
                    owner: Some(owner),
                    expires: Some(until),
                }) if state == "running" && until > now => {
                    let left = u64::try_from(until - now).unwrap_or(0);
                    return Ok(Claimed::Held {
                        owner,
                        expires_in: Duration::from_millis(left),
                    });
                }
                Some(row) if row.state == "running" => continue,
                _ => return Ok(Claimed::NotRunning),
            }
        }
        Err(StoreError::new(Failure::new(
            self.schema(),
            format!("saga `{id}`: its claim kept changing while it was being claimed"),
            None,
        )))
    }

    pub(super) async fn claim_expired_sagas(
        &self,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<(SagaId, Claim)>, StoreError> {
        let claims: Vec<Claim> = (0..limit).map(|_| Claim::with_owner(owner)).collect();
        let tokens: Vec<i64> = claims.iter().map(token).collect();
        let (now, expires) = (self.now_ms(), self.expiry_ms());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let what = "cannot claim the expired sagas";
        let rows = self
            .query(
                what,
                &self.shared.sql.claim_expired,
                &[&now, &limit, &owner, &tokens, &expires],
                true,
            )
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, token, fence): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
            if let Some(claim) = claims.iter().find(|c| c.token() as i64 == token) {
                let fence = u64::try_from(fence).unwrap_or(0);
                claimed.push((SagaId::from(id), claim.clone().with_fence(fence)));
            }
        }
        Ok(claimed)
    }
}

/// A saga's row: its state and the claim holding it.
pub(super) struct Row {
    pub(super) state: String,
    pub(super) owner: Option<String>,
    pub(super) expires: Option<i64>,
}
