//! The MySQL/MariaDB claim: neither has `UPDATE … RETURNING`, so due rows are locked with
//! `SELECT … FOR UPDATE SKIP LOCKED` and then stamped by a fenced `UPDATE`, in one short
//! transaction.

use orch_core::store::{ClaimParams, ClaimedCommand, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use super::{WHAT, due_filter, lease_expiry, read_claimed};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, id_value};
use crate::tables::Tables;

pub(super) async fn claim(
    db: &DatabaseConnection,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Vec<ClaimedCommand>, StoreError> {
    let backend = Backend::MySql;
    let t = &tables.commands;
    let txn = db.begin().await.map_err(|e| db_error(WHAT, e))?;
    let mut sql = Sql::new(backend);
    sql.push("SELECT id, name, input, attempts, max_attempts, timeout_ms, ")
        .now()
        .push(" AS now_us FROM ")
        .push(t);
    due_filter(&mut sql, params);
    sql.push(" FOR UPDATE SKIP LOCKED");
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    if rows.is_empty() {
        txn.commit().await.map_err(|e| db_error(WHAT, e))?;
        return Ok(Vec::new());
    }
    let now: i64 = col(&rows[0], 6, WHAT)?;
    let claimed = rows
        .iter()
        .map(|row| read_claimed(row, params.token, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(t)
        .push(" SET status = 'running', attempts = attempts + 1, started_at = ")
        .bind(now)
        .push(", lease_owner = ")
        .bind(params.worker.as_uuid())
        .push(", lease_token = ")
        .bind(params.token.as_uuid())
        .push(", lease_expires_at = ");
    lease_expiry(&mut sql, backend, params, Some(now));
    sql.push(" WHERE status = 'pending' AND id IN ")
        .bind_list(claimed.iter().map(|c| id_value(c.id)));
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(claimed)
}
