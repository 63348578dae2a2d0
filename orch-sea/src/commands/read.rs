//! Reads: one command with its errors, expired leases for the reaper, the database clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use orch_core::store::{AttemptError, ClaimedCommand, CommandRecord, ListFilter, StoreError};
use orch_core::{CommandId, CommandStatus, FailureKind, LeaseToken};
use sea_orm::{ConnectionTrait, QueryResult};
use tracing::warn;

use super::unreadable::{self, Decoded, Key};
use crate::backend::Backend;
use crate::error::{corrupt, db_error};
use crate::sql::Sql;
use crate::sql::{col, id_value, time, to_u32, uuid_col};
use crate::tables::Tables;

const WHAT: &str = "read a command";

const COLUMNS: &str = "id, name, target, status, input, output, attempts, max_attempts, timeout_ms, \
    run_at, created_at, started_at, finished_at, lease_expires_at, last_error, idempotency_key, parent_id";

/// `SELECT {COLUMNS} FROM {commands}`, for [`record`] to read; the caller adds the rest.
pub(crate) fn select_records(backend: Backend, tables: &Tables) -> Sql {
    let mut sql = Sql::new(backend);
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM ")
        .push(&tables.commands);
    sql
}

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    id: CommandId,
) -> Result<Option<CommandRecord>, StoreError> {
    let mut sql = select_records(backend, tables);
    sql.push(" WHERE id = ").bind(id_value(id));
    let Some(row) = conn
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?
    else {
        return Ok(None);
    };
    let mut record = record(&row).map_err(|e| corrupt(&format!("read command {id}"), e))?;
    record.errors = errors(conn, backend, tables, id).await?;
    Ok(Some(record))
}

/// Commands matching `filter`, newest first.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    filter: &ListFilter,
) -> Result<Vec<CommandRecord>, StoreError> {
    let mut sql = select_records(backend, tables);
    sql.push(" WHERE 1 = 1");
    if let Some(status) = filter.status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    if let Some(name) = &filter.name {
        sql.push(" AND name = ").bind(name.clone());
    }
    if let Some(parent) = filter.parent {
        sql.push(" AND parent_id = ").bind(id_value(parent));
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(i64::from(filter.effective_limit()));
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error("list commands", e))?;
    Ok(readable(&rows, "list commands"))
}

/// Decodes each row, leaving out (and logging, with its id when that much can be read)
/// every row that cannot be read, so one bad row never hides the others.
fn readable(rows: &[QueryResult], what: &str) -> Vec<CommandRecord> {
    rows.iter()
        .filter_map(|row| match record(row) {
            Ok(record) => Some(record),
            Err(error) => {
                let id = uuid_col(row, 0, WHAT).ok();
                warn!(command.id = ?id, %error, "{what}: left out a row that cannot be read");
                None
            }
        })
        .collect()
}

fn opt_time(row: &QueryResult, index: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(col::<Option<i64>>(row, index, WHAT)?.map(time))
}

/// Commands not yet started whose due time is ahead, soonest first.
pub(crate) async fn list_unstarted<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    limit: u32,
) -> Result<Vec<CommandRecord>, StoreError> {
    let mut sql = select_records(backend, tables);
    sql.push(" WHERE status = 'pending' AND attempts = 0 AND run_at > ")
        .now()
        .push(" ORDER BY run_at, id LIMIT ")
        .bind(i64::from(limit.min(10_000)));
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error("list commands not yet started", e))?;
    Ok(readable(&rows, "list commands not yet started"))
}

pub(crate) fn record(row: &QueryResult) -> Result<CommandRecord, StoreError> {
    let status: String = col(row, 3, WHAT)?;
    let timeout_ms: i64 = col(row, 8, WHAT)?;
    Ok(CommandRecord {
        id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
        name: col(row, 1, WHAT)?,
        target: col(row, 2, WHAT)?,
        status: status
            .parse::<CommandStatus>()
            .map_err(|e| corrupt(WHAT, e))?,
        input: col(row, 4, WHAT)?,
        output: col(row, 5, WHAT)?,
        attempts: to_u32(col::<i32>(row, 6, WHAT)?.into()),
        max_attempts: to_u32(col::<i32>(row, 7, WHAT)?.into()),
        timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
        run_at: time(col(row, 9, WHAT)?),
        created_at: time(col(row, 10, WHAT)?),
        started_at: opt_time(row, 11)?,
        finished_at: opt_time(row, 12)?,
        lease_expires_at: opt_time(row, 13)?,
        last_error: col(row, 14, WHAT)?,
        idempotency_key: col(row, 15, WHAT)?,
        parent_id: col::<Option<uuid::Uuid>>(row, 16, WHAT)?.map(CommandId::from_uuid),
        errors: Vec::new(),
    })
}

async fn errors<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    id: CommandId,
) -> Result<Vec<AttemptError>, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("SELECT attempt, kind, message, at FROM ")
        .push(&tables.errors)
        .push(" WHERE command_id = ")
        .bind(id_value(id))
        .push(" ORDER BY id");
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error("read attempt errors", e))?;
    rows.iter()
        .map(|row| {
            let kind: String = col(row, 1, WHAT)?;
            Ok(AttemptError {
                attempt: to_u32(col::<i32>(row, 0, WHAT)?.into()),
                kind: FailureKind::from_stored(&kind),
                message: col(row, 2, WHAT)?,
                at: time(col(row, 3, WHAT)?),
            })
        })
        .collect()
}

/// Running commands whose lease expired by the database clock. A row that cannot be decoded
/// is set apart (for the caller to record dead) rather than stopping recovery of the rest.
pub(crate) async fn expired<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    limit: u32,
    skip: &[CommandId],
) -> Result<Decoded, StoreError> {
    const WHAT: &str = "find expired leases";
    let mut sql = Sql::new(backend);
    sql.push("SELECT id, name, input, attempts, max_attempts, timeout_ms, lease_token FROM ")
        .push(&tables.commands)
        .push(" WHERE status = 'running' AND lease_expires_at < ")
        .now();
    if !skip.is_empty() {
        sql.push(" AND id NOT IN ")
            .bind_list(skip.iter().map(CommandId::as_uuid));
    }
    sql.push(" ORDER BY lease_expires_at LIMIT ")
        .bind(i64::from(limit));
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let lease = |row: &QueryResult| Ok(LeaseToken::from_uuid(uuid_col(row, 6, WHAT)?));
    Ok(unreadable::split(
        &rows,
        WHAT,
        |row| {
            let timeout_ms: i64 = col(row, 5, WHAT)?;
            Ok(ClaimedCommand {
                id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
                name: col(row, 1, WHAT)?,
                input: col(row, 2, WHAT)?,
                attempt: to_u32(col::<i32>(row, 3, WHAT)?.into()),
                max_attempts: to_u32(col::<i32>(row, 4, WHAT)?.into()),
                timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
                lease: lease(row)?,
            })
        },
        |row| {
            Ok(Key {
                id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
                lease: lease(row)?,
                attempt: col::<i32>(row, 3, WHAT).map_or(0, |a| to_u32(a.into())),
            })
        },
    ))
}

/// The database's clock.
pub(crate) async fn now<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
) -> Result<DateTime<Utc>, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("SELECT ").now();
    let row = conn
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error("read the database clock", e))?
        .ok_or_else(|| corrupt("read the database clock", "no row"))?;
    Ok(time(col(&row, 0, "read the database clock")?))
}
