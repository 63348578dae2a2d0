//! Reading outbox rows: by id, by filter, and counts by status.

use std::collections::BTreeMap;

use orch_core::outbox::{MessageFilter, MessageId, MessageStatus, OutboxMessage, OutboxStats};
use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, QueryResult};

use super::message_id;
use crate::error::{corrupt, db_error};
use crate::sql::{Sql, col, time, to_u32, uuid_col};
use crate::store::SeaStore;

const WHAT: &str = "read outbox messages";

/// Every column [`message`] reads, in its order.
pub(super) const COLUMNS: &str = "seq, id, topic, msg_key, payload, headers, correlation_id, \
    status, attempts, max_attempts, last_error, created_at, next_attempt_at, delivered_at";

/// Reads one row selected with [`COLUMNS`].
pub(super) fn message(row: &QueryResult) -> Result<OutboxMessage, StoreError> {
    let status: String = col(row, 7, WHAT)?;
    let headers: String = col(row, 5, WHAT)?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&headers).map_err(|e| {
        corrupt(
            WHAT,
            format!("headers are not a JSON object of strings: {e}"),
        )
    })?;
    let mut message =
        OutboxMessage::new(col::<String>(row, 2, WHAT)?, col::<Vec<u8>>(row, 4, WHAT)?);
    message.seq = col(row, 0, WHAT)?;
    message.id = MessageId::from_uuid(uuid_col(row, 1, WHAT)?);
    message.key = col(row, 3, WHAT)?;
    message.headers = headers;
    message.correlation_id = col(row, 6, WHAT)?;
    message.status = MessageStatus::parse(&status)
        .ok_or_else(|| corrupt(WHAT, format!("unknown status {status:?}")))?;
    message.attempts = to_u32(col::<i32>(row, 8, WHAT)?.into());
    message.max_attempts = to_u32(col::<i32>(row, 9, WHAT)?.into());
    message.last_error = col(row, 10, WHAT)?;
    message.created_at = time(col(row, 11, WHAT)?);
    message.next_attempt_at = time(col(row, 12, WHAT)?);
    message.delivered_at = col::<Option<i64>>(row, 13, WHAT)?.map(time);
    Ok(message)
}

pub(super) async fn get_many(
    store: &SeaStore,
    ids: &[MessageId],
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new(i.backend);
        sql.push("SELECT ")
            .push(COLUMNS)
            .push(" FROM ")
            .push(&i.tables.outbox)
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().map(|id| message_id(*id)))
            .push(" ORDER BY seq");
        let rows =
            i.db.query_all_raw(sql.build())
                .await
                .map_err(|e| db_error(WHAT, e))?;
        for row in &rows {
            found.push(message(row)?);
        }
    }
    Ok(found)
}

pub(super) async fn list(
    store: &SeaStore,
    filter: &MessageFilter,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM ")
        .push(&i.tables.outbox)
        .push(" WHERE 1 = 1");
    if let Some(status) = filter.status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    if let Some(topic) = &filter.topic {
        sql.push(" AND topic = ").bind(topic.clone());
    }
    if let Some(key) = &filter.key {
        sql.push(" AND msg_key = ").bind(key.clone());
    }
    sql.push(" ORDER BY seq LIMIT ")
        .bind(i64::from(filter.limit.unwrap_or(100).clamp(1, 10_000)));
    let rows =
        i.db.query_all_raw(sql.build())
            .await
            .map_err(|e| db_error("list outbox messages", e))?;
    rows.iter().map(message).collect()
}

pub(super) async fn stats(store: &SeaStore) -> Result<OutboxStats, StoreError> {
    const WHAT: &str = "count outbox messages";
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("SELECT status, COUNT(*) FROM ")
        .push(&i.tables.outbox)
        .push(" GROUP BY status");
    let rows =
        i.db.query_all_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
    let mut stats = OutboxStats::default();
    for row in &rows {
        let status: String = col(row, 0, WHAT)?;
        let n = u64::try_from(col::<i64>(row, 1, WHAT)?).unwrap_or(0);
        match MessageStatus::parse(&status) {
            Some(MessageStatus::Pending) => stats.pending = n,
            Some(MessageStatus::Processing) => stats.processing = n,
            Some(MessageStatus::Delivered) => stats.delivered = n,
            Some(MessageStatus::Dead) => stats.dead = n,
            _ => {}
        }
    }
    let mut sql = Sql::new(i.backend);
    sql.push("SELECT ")
        .now()
        .push(" - MIN(created_at) FROM ")
        .push(&i.tables.outbox)
        .push(" WHERE status IN ('pending', 'processing')");
    if let Some(row) =
        i.db.query_one_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?
    {
        stats.oldest_undelivered = col::<Option<i64>>(&row, 0, WHAT)?
            .map(|us| std::time::Duration::from_micros(u64::try_from(us).unwrap_or(0)));
    }
    Ok(stats)
}
