//! Cancellation: a compare-and-set to `canceled` while pending or running, with the
//! `on_cancel` follow-ups (or the record that they are owed) in the same transaction.

use orch_core::CommandStatus;
use orch_core::store::{CancelOutcome, CancelParams, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

use crate::backend::Backend;
use crate::error::{corrupt, db_error};
use crate::sql::Sql;
use crate::sql::{col, id_value};
use crate::tables::Tables;

const WHAT: &str = "cancel a command";

pub(crate) async fn cancel(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    max_bytes: usize,
    params: &CancelParams,
) -> Result<CancelOutcome, StoreError> {
    let t = &tables.commands;
    let txn = crate::sql::begin_write(db, WHAT).await?;
    let mut sql = Sql::new(backend);
    sql.push("SELECT status FROM ")
        .push(t)
        .push(" WHERE id = ")
        .bind(id_value(params.id));
    if backend != Backend::Sqlite {
        sql.push(" FOR UPDATE");
    }
    let row = txn
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let Some(row) = row else {
        txn.commit().await.map_err(|e| db_error(WHAT, e))?;
        return Ok(CancelOutcome::NotFound);
    };
    let status: String = col(&row, 0, WHAT)?;
    let status: CommandStatus = status.parse().map_err(|e| corrupt(WHAT, e))?;
    if status.is_terminal() {
        txn.commit().await.map_err(|e| db_error(WHAT, e))?;
        return Ok(CancelOutcome::AlreadyFinished(status));
    }
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(t)
        .push(" SET status = 'canceled', finished_at = ")
        .now()
        .push(", lease_expires_at = NULL WHERE id = ")
        .bind(id_value(params.id))
        .push(" AND status IN ('pending', 'running')");
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    follow_ups(&txn, backend, tables, notify, max_bytes, params).await?;
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(if status == CommandStatus::Running {
        CancelOutcome::CanceledRunning
    } else {
        CancelOutcome::CanceledPending
    })
}

/// Cancels `params.id` only while it is `pending` with no attempt made; returns whether it
/// did.
pub(crate) async fn cancel_unstarted(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    max_bytes: usize,
    params: &CancelParams,
) -> Result<bool, StoreError> {
    let txn = crate::sql::begin_write(db, WHAT).await?;
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(&tables.commands)
        .push(" SET status = 'canceled', finished_at = ")
        .now()
        .push(" WHERE id = ")
        .bind(id_value(params.id))
        .push(" AND ")
        .status_is("status", "pending")
        .push(" AND attempts = 0");
    let done = txn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let canceled = done.rows_affected() == 1;
    if canceled {
        follow_ups(&txn, backend, tables, notify, max_bytes, params).await?;
    }
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(canceled)
}

/// Inserts the cancel's follow-ups, or records them as owed, in the cancel's transaction.
async fn follow_ups(
    txn: &DatabaseTransaction,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    max_bytes: usize,
    params: &CancelParams,
) -> Result<(), StoreError> {
    if params.follow_ups_owed {
        super::owed::owe(txn, backend, tables, params.id).await?;
    }
    if !params.follow_ups.is_empty() {
        super::insert::insert(txn, backend, tables, notify, max_bytes, &params.follow_ups).await?;
    }
    Ok(())
}
