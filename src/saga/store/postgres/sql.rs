//! The PostgreSQL store's statements, with the schema's name written in once at opening.
//!
//! Every write to a saga is one statement, so one transaction and one round trip: the check
//! (the saga's state, the claim holding it) is the `WHERE` of the `UPDATE` that changes the
//! saga's row, and the log entry is inserted from that `UPDATE`'s result, so it is written if
//! and only if the check passed. Concurrent writes to one saga queue on its row's lock.

/// The statements, for one schema.
#[derive(Debug)]
pub(super) struct Sql {
    /// `$1` id, `$2` definition, `$3` version, `$4` now, `$5` owner, `$6` token, `$7` expiry,
    /// `$8` entry: a new saga and its first entry, unless the id is taken.
    pub(super) start: String,
    /// `$1` id, `$2` owner, `$3` token, `$4` expiry, `$5` entry: a running saga's transition,
    /// under the claim holding it (which it renews).
    pub(super) step: String,
    /// `$1` id, `$2` owner, `$3` token, `$4` now, `$5` entry, `$6` outcome.
    pub(super) finish: String,
    /// `$1` id, `$2` owner, `$3` token, `$4` expiry, `$5` entry: a parked saga, reopened under
    /// a new hold.
    pub(super) reopen: String,
    /// `$1` id, `$2` now, `$3` entry.
    pub(super) resolve: String,
    /// `$1` id: the saga's state and claim, to say why a write was refused.
    pub(super) state: String,
    /// `$1` id, `$2` owner, `$3` token, `$4` now, `$5` expiry: the claim, if the saga runs and
    /// its holder is none, expired, or this claim; a new holder's fence is one more.
    pub(super) claim: String,
    /// `$1` id, `$2` owner, `$3` token, `$4` expiry.
    pub(super) renew: String,
    /// `$1` id, `$2` owner, `$3` token.
    pub(super) release: String,
    /// `$1` id, `$2` owner, `$3` token.
    pub(super) fence: String,
    /// `$1` now, `$2` limit, `$3` owner, `$4` tokens (`bigint[]`), `$5` expiry.
    pub(super) claim_expired: String,
    /// `$1` id.
    pub(super) load: String,
    /// `$1` state.
    pub(super) list: String,
    /// `$1` now.
    pub(super) expired: String,
    /// `$1` finished before (ms).
    pub(super) prune: String,
}

impl Sql {
    pub(super) fn new(s: &str) -> Self {
        Self {
            start: format!(
                "WITH saga AS (
                    INSERT INTO {s}.sagas
                    (id, definition, version, state, created_ms, claim_owner, claim_token, claim_expires_ms)
                    VALUES ($1, $2, $3, 'running', $4, $5, $6, $7)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id)
                 INSERT INTO {s}.saga_log (saga, entry) SELECT id, $8::text::jsonb FROM saga"
            ),
            step: format!(
                "WITH saga AS (
                    UPDATE {s}.sagas SET claim_expires_ms = $4
                    WHERE id = $1 AND state = 'running' AND claim_owner = $2 AND claim_token = $3
                    RETURNING id)
                 INSERT INTO {s}.saga_log (saga, entry) SELECT id, $5::text::jsonb FROM saga"
            ),
            finish: format!(
                "WITH saga AS (
                    UPDATE {s}.sagas SET state = $6, finished_ms = $4,
                        claim_owner = NULL, claim_token = NULL, claim_expires_ms = NULL
                    WHERE id = $1 AND state = 'running' AND claim_owner = $2 AND claim_token = $3
                    RETURNING id)
                 INSERT INTO {s}.saga_log (saga, entry) SELECT id, $5::text::jsonb FROM saga"
            ),
            reopen: format!(
                "WITH saga AS (
                    UPDATE {s}.sagas SET state = 'running', finished_ms = NULL,
                        claim_owner = $2, claim_token = $3, claim_expires_ms = $4, fence = fence + 1
                    WHERE id = $1 AND state = 'parked'
                    RETURNING id)
                 INSERT INTO {s}.saga_log (saga, entry) SELECT id, $5::text::jsonb FROM saga"
            ),
            resolve: format!(
                "WITH saga AS (
                    UPDATE {s}.sagas SET state = 'resolved', finished_ms = $2
                    WHERE id = $1 AND state = 'parked'
                    RETURNING id)
                 INSERT INTO {s}.saga_log (saga, entry) SELECT id, $3::text::jsonb FROM saga"
            ),
            state: format!(
                "SELECT state, claim_owner, claim_token, claim_expires_ms FROM {s}.sagas WHERE id = $1"
            ),
            claim: format!(
                "UPDATE {s}.sagas SET claim_owner = $2, claim_token = $3, claim_expires_ms = $5,
                    fence = fence + CASE WHEN claim_owner = $2 AND claim_token = $3 THEN 0 ELSE 1 END
                 WHERE id = $1 AND state = 'running'
                   AND (claim_owner IS NULL OR claim_expires_ms <= $4
                        OR (claim_owner = $2 AND claim_token = $3))"
            ),
            renew: format!(
                "UPDATE {s}.sagas SET claim_expires_ms = $4
                 WHERE id = $1 AND state = 'running' AND claim_owner = $2 AND claim_token = $3"
            ),
            release: format!(
                "UPDATE {s}.sagas SET claim_owner = NULL, claim_token = NULL, claim_expires_ms = NULL
                 WHERE id = $1 AND claim_owner = $2 AND claim_token = $3"
            ),
            fence: format!(
                "SELECT fence FROM {s}.sagas
                 WHERE id = $1 AND state = 'running' AND claim_owner = $2 AND claim_token = $3"
            ),
            // The expired sagas, oldest first, skipping rows another node is claiming right
            // now; each paired with one of the tokens, in order.
            claim_expired: format!(
                "WITH picked AS (
                    SELECT id, row_number() OVER (ORDER BY created_ms, id) AS n FROM (
                        SELECT id, created_ms FROM {s}.sagas
                        WHERE state = 'running' AND (claim_owner IS NULL OR claim_expires_ms <= $1)
                        ORDER BY created_ms, id
                        LIMIT $2
                        FOR UPDATE SKIP LOCKED) AS expired),
                 tokens AS (
                    SELECT token, n FROM unnest($4::bigint[]) WITH ORDINALITY AS t (token, n))
                 UPDATE {s}.sagas AS saga
                 SET claim_owner = $3, claim_token = tokens.token, claim_expires_ms = $5,
                     fence = saga.fence + 1
                 FROM picked JOIN tokens USING (n)
                 WHERE saga.id = picked.id
                 RETURNING saga.id, saga.claim_token, saga.fence"
            ),
            load: format!(
                "SELECT position, entry::text FROM {s}.saga_log WHERE saga = $1 ORDER BY position"
            ),
            list: format!("SELECT id FROM {s}.sagas WHERE state = $1 ORDER BY created_ms, id"),
            expired: format!(
                "SELECT id, claim_owner, claim_expires_ms FROM {s}.sagas
                 WHERE state = 'running' AND (claim_owner IS NULL OR claim_expires_ms <= $1)
                 ORDER BY created_ms, id"
            ),
            prune: format!(
                "DELETE FROM {s}.sagas
                 WHERE state IN ('completed', 'compensated', 'resolved') AND finished_ms <= $1"
            ),
        }
    }
}
