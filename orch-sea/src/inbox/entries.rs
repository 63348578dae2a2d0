//! Inbox rows: the first insert, reading one row, status moves and pruning.

use std::time::Duration;

use orch_core::inbox::{InboxEntry, InboxStatus};
use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::backend::Backend;
use crate::error::{corrupt, db_error};
use crate::sql::{Sql, col, micros, time, to_u32};
use crate::store::SeaStore;
use crate::tables::Tables;

const WHAT: &str = "record an inbox message";

const COLUMNS: &str = "source, message_id, content_hash, status, attempts, first_seen_at, \
    last_seen_at, processed_at, last_error";

fn entry(row: &QueryResult) -> Result<InboxEntry, StoreError> {
    let status: String = col(row, 3, WHAT)?;
    let mut entry = InboxEntry::new(col::<String>(row, 0, WHAT)?, col::<String>(row, 1, WHAT)?);
    entry.content_hash = col(row, 2, WHAT)?;
    entry.status = InboxStatus::parse(&status)
        .ok_or_else(|| corrupt(WHAT, format!("unknown inbox status {status:?}")))?;
    entry.attempts = to_u32(col::<i32>(row, 4, WHAT)?.into());
    entry.first_seen_at = time(col(row, 5, WHAT)?);
    entry.last_seen_at = time(col(row, 6, WHAT)?);
    entry.processed_at = col::<Option<i64>>(row, 7, WHAT)?.map(time);
    entry.last_error = col(row, 8, WHAT)?;
    Ok(entry)
}

/// `WHERE source = ? AND message_id = ?`.
pub(super) fn key(sql: &mut Sql, source: &str, message_id: &str) {
    sql.push(" WHERE source = ")
        .bind(source.to_owned())
        .push(" AND message_id = ")
        .bind(message_id.to_owned());
}

/// Reads one entry; `lock` takes its row lock (where the backend has one) so the caller's
/// transaction sees the latest committed row and holds it.
pub(super) async fn read<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    source: &str,
    message_id: &str,
    lock: bool,
) -> Result<Option<InboxEntry>, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM ")
        .push(&tables.inbox);
    key(&mut sql, source, message_id);
    if lock && backend != Backend::Sqlite {
        sql.push(" FOR UPDATE");
    }
    let row = conn
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    row.as_ref().map(entry).transpose()
}

/// Inserts the row as first seen with `status` (and `attempts`), unless it exists.
/// Returns whether it inserted. MySQL counts a duplicate as a changed row only when the
/// update changes something, so there the duplicate bumps `deliveries`.
pub(super) async fn insert_first<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    (source, message_id, content_hash): (&str, &str, &str),
    status: InboxStatus,
) -> Result<bool, StoreError> {
    let processed = status == InboxStatus::Processed;
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO ").push(&tables.inbox).push(
        " (source, message_id, content_hash, status, attempts, deliveries, first_seen_at, \
         last_seen_at, processed_at) VALUES (",
    );
    sql.bind(source.to_owned())
        .push(", ")
        .bind(message_id.to_owned())
        .push(", ")
        .bind(content_hash.to_owned())
        .push(", ")
        .bind(status.as_str())
        .push(if processed { ", 1, 1, " } else { ", 0, 1, " })
        .now()
        .push(", ")
        .now()
        .push(", ");
    if processed {
        sql.now();
    } else {
        sql.push("NULL");
    }
    sql.push(")");
    if backend == Backend::MySql {
        sql.push(" ON DUPLICATE KEY UPDATE deliveries = deliveries + 1, last_seen_at = ")
            .now();
    } else {
        sql.push(" ON CONFLICT (source, message_id) DO NOTHING");
    }
    let done = conn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(done.rows_affected() == 1)
}

/// Counts another delivery of a known message.
pub(super) async fn seen_again<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    source: &str,
    message_id: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(&tables.inbox)
        .push(" SET deliveries = deliveries + 1, last_seen_at = ")
        .now();
    key(&mut sql, source, message_id);
    conn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(())
}

pub(super) async fn record(
    store: &SeaStore,
    source: &str,
    message_id: &str,
    content_hash: &str,
) -> Result<InboxEntry, StoreError> {
    let i = store.inner();
    let inserted = insert_first(
        &i.db,
        i.backend,
        &i.tables,
        (source, message_id, content_hash),
        InboxStatus::Received,
    )
    .await?;
    if !inserted && i.backend != Backend::MySql {
        seen_again(&i.db, i.backend, &i.tables, source, message_id).await?;
    }
    read(&i.db, i.backend, &i.tables, source, message_id, false)
        .await?
        .ok_or_else(|| corrupt(WHAT, "the inbox row vanished right after it was recorded"))
}

pub(super) async fn set_status(
    store: &SeaStore,
    source: &str,
    message_id: &str,
    status: InboxStatus,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("UPDATE ")
        .push(&i.tables.inbox)
        .push(" SET status = ")
        .bind(status.as_str());
    let allowed = match status {
        InboxStatus::Received => return Ok(false),
        InboxStatus::Processing => {
            sql.push(", attempts = attempts + 1");
            "('received', 'processing', 'failed')"
        }
        InboxStatus::Processed => {
            sql.push(", processed_at = ").now();
            "('received', 'processing', 'failed')"
        }
        InboxStatus::Failed => "('received', 'processing', 'failed')",
        InboxStatus::Dead => "('received', 'processing', 'failed')",
        _ => return Ok(false),
    };
    if let Some(error) = error {
        sql.push(", last_error = ").bind(error.to_owned());
    }
    key(&mut sql, source, message_id);
    sql.push(" AND status IN ").push(allowed);
    let done =
        i.db.execute_raw(sql.build())
            .await
            .map_err(|e| db_error("update an inbox message", e))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn prune(store: &SeaStore, older_than: Duration) -> Result<u64, StoreError> {
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("DELETE FROM ")
        .push(&i.tables.inbox)
        .push(" WHERE status = 'processed' AND processed_at < ")
        .now()
        .push(" - ")
        .bind(micros(older_than));
    let done =
        i.db.execute_raw(sql.build())
            .await
            .map_err(|e| db_error("prune the inbox", e))?;
    Ok(done.rows_affected())
}
