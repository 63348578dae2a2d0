//! Claiming due commands, per backend:
//! - PostgreSQL: one statement, a materialized CTE selecting `FOR UPDATE SKIP LOCKED`
//!   (the CTE keeps `LIMIT` exact whatever plan is chosen), then `UPDATE … RETURNING`.
//! - MySQL/MariaDB: `SELECT … FOR UPDATE SKIP LOCKED`, then a fenced `UPDATE`, in one short
//!   transaction (neither has `UPDATE … RETURNING`).
//! - SQLite: `BEGIN IMMEDIATE`, then `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`;
//!   SQLite has one writer at a time, so no row locks are needed.

use std::time::Duration;

use orch_core::store::{ClaimParams, ClaimedCommand, StoreError};
use orch_core::{CommandId, LeaseToken};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, TransactionTrait};

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{col, millis, to_u32, uuid_col};
use crate::tables::Tables;

mod mysql;

const WHAT: &str = "claim due commands";
/// Tries at releasing an ambiguous claim: more than a pool's worth of dead connections.
const RELEASE_TRIES: u32 = 12;

pub(crate) async fn claim(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Vec<ClaimedCommand>, StoreError> {
    let result = claim_once(db, backend, tables, params).await;
    if result.is_err() {
        // The connection may have died during COMMIT: the claim may have committed with
        // nobody to run what it took. Hand back anything under this claim's token now,
        // rather than leave it to the reaper after the lease expires. Best effort: if the
        // database is still away, the reaper does it later.
        // Each try that meets a dead pooled connection drops it; the next gets another.
        let mut tries = 0;
        while let Err(error) = release_token(db, backend, tables, params).await {
            tries += 1;
            if tries >= RELEASE_TRIES || !error.is_transient() {
                tracing::warn!(%error, "could not release an ambiguous claim; the reaper will");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    result
}

/// Puts back every row still running under this claim's token, refunding the attempt.
async fn release_token(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(&tables.commands)
        .push(" SET status = 'pending', attempts = attempts - 1, lease_expires_at = NULL WHERE status = 'running' AND lease_token = ")
        .bind(params.token.as_uuid());
    let done = db
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error("release an ambiguous claim", e))?;
    Ok(done.rows_affected())
}

async fn claim_once(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Vec<ClaimedCommand>, StoreError> {
    match backend {
        Backend::Postgres => {
            // Right after a burst of inserts the table's statistics still say "almost
            // empty", and the planner then prefers a bitmap scan plus a sort of the whole
            // backlog on every claim (cost growing with the backlog). The claim must walk
            // the due index in order; these settings last only for this transaction.
            let txn = db.begin().await.map_err(|e| db_error(WHAT, e))?;
            txn.execute_unprepared(
                "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off",
            )
            .await
            .map_err(|e| db_error(WHAT, e))?;
            let claimed = claim_returning(&txn, backend, tables, params).await?;
            txn.commit().await.map_err(|e| db_error(WHAT, e))?;
            Ok(claimed)
        }
        Backend::Sqlite => {
            let txn = crate::sql::begin_write(db, WHAT).await?;
            let claimed = claim_returning(&txn, backend, tables, params).await?;
            txn.commit().await.map_err(|e| db_error(WHAT, e))?;
            Ok(claimed)
        }
        Backend::MySql => mysql::claim(db, tables, params).await,
    }
}

/// The due-rows filter: `status = 'pending' AND run_at <= now AND name IN … AND target IN …`.
pub(super) fn due_filter(sql: &mut Sql, params: &ClaimParams) {
    sql.push(" WHERE status = 'pending' AND run_at <= ")
        .now()
        .push(" AND name IN ")
        .bind_list(params.names.iter().cloned())
        .push(" AND target IN ")
        .bind_list(params.targets.iter().cloned())
        .push(" ORDER BY run_at, id LIMIT ")
        .bind(i64::from(params.limit));
}

/// The lease expiry expression for a row with `timeout_ms`.
pub(super) fn lease_expiry(
    sql: &mut Sql,
    backend: Backend,
    params: &ClaimParams,
    now: Option<i64>,
) {
    match now {
        Some(now) => sql.bind(now),
        None => sql.now(),
    };
    sql.push(" + (")
        .push(backend.least())
        .push("(timeout_ms, ")
        .bind(millis(params.lease_ttl))
        .push(") + ")
        .bind(millis(params.lease_buffer))
        .push(") * 1000");
}

async fn claim_returning<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Vec<ClaimedCommand>, StoreError> {
    let t = &tables.commands;
    let mut sql = Sql::new(backend);
    if backend == Backend::Postgres {
        sql.push("WITH due AS MATERIALIZED (SELECT id FROM ")
            .push(t);
        due_filter(&mut sql, params);
        sql.push(" FOR UPDATE SKIP LOCKED) UPDATE ")
            .push(t)
            .push(" AS c SET ");
    } else {
        sql.push("UPDATE ").push(t).push(" SET ");
    }
    sql.push("status = 'running', attempts = attempts + 1, started_at = ")
        .now()
        .push(", lease_owner = ")
        .bind(params.worker.as_uuid())
        .push(", lease_token = ")
        .bind(params.token.as_uuid())
        .push(", lease_expires_at = ");
    lease_expiry(&mut sql, backend, params, None);
    if backend == Backend::Postgres {
        sql.push(" FROM due WHERE c.id = due.id RETURNING c.id, c.name, c.input, c.attempts, c.max_attempts, c.timeout_ms");
    } else {
        sql.push(" WHERE id IN (SELECT id FROM ").push(t);
        due_filter(&mut sql, params);
        sql.push(") RETURNING id, name, input, attempts, max_attempts, timeout_ms");
    }
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    rows.iter()
        .map(|row| read_claimed(row, params.token, 0))
        .collect()
}

/// Reads a claimed row; `attempt_offset` is added to the stored attempt count (1 when the
/// row was read before its increment).
pub(super) fn read_claimed(
    row: &QueryResult,
    lease: LeaseToken,
    attempt_offset: i64,
) -> Result<ClaimedCommand, StoreError> {
    let attempts: i64 = col::<i32>(row, 3, WHAT)?.into();
    let max_attempts: i64 = col::<i32>(row, 4, WHAT)?.into();
    let timeout_ms: i64 = col(row, 5, WHAT)?;
    Ok(ClaimedCommand {
        id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
        name: col(row, 1, WHAT)?,
        input: col(row, 2, WHAT)?,
        attempt: to_u32(attempts + attempt_offset),
        max_attempts: to_u32(max_attempts),
        timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
        lease,
    })
}
