//! Enqueueing: new messages are inserted in statements bounded by rows and bytes; ids
//! that were already there are compared by content hash (same: left alone; other: a
//! conflict, and the caller's transaction must not commit).

use std::collections::HashMap;

use orch_core::store::{EnqueueOutcome, NewMessage, StoreError};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::message_id;
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, uuid_col};
use crate::tables::Tables;

const WHAT: &str = "enqueue outbox messages";
/// Most rows per insert statement.
const MAX_ROWS: usize = 500;

/// The content hash stored under each of `ids` that exists.
async fn existing<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, StoreError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(MAX_ROWS) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, content_hash FROM ")
            .push(&tables.outbox)
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().copied());
        let rows = conn
            .query_all_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
        for row in &rows {
            found.insert(uuid_col(row, 0, WHAT)?, col::<String>(row, 1, WHAT)?);
        }
    }
    Ok(found)
}

pub(super) async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    max_bytes: usize,
    messages: &[NewMessage],
) -> Result<Vec<EnqueueOutcome>, StoreError> {
    // One id twice in one call: the later one is the first's duplicate (or conflict).
    let mut outcomes = vec![EnqueueOutcome::Created; messages.len()];
    let mut seen: HashMap<Uuid, &str> = HashMap::new();
    for (m, outcome) in messages.iter().zip(outcomes.iter_mut()) {
        match seen.get(&m.id.as_uuid()) {
            None => {
                seen.insert(m.id.as_uuid(), &m.content_hash);
            }
            Some(hash) if *hash == m.content_hash => *outcome = EnqueueOutcome::Existing,
            Some(_) => *outcome = EnqueueOutcome::Conflict,
        }
    }
    if outcomes.contains(&EnqueueOutcome::Conflict) {
        return Ok(outcomes);
    }
    if backend == Backend::MySql {
        // Look first: MySQL cannot say which rows of an insert were duplicates.
        let ids: Vec<Uuid> = seen.keys().copied().collect();
        let before = existing(conn, backend, tables, &ids).await?;
        compare(messages, &mut outcomes, &before);
        if outcomes.contains(&EnqueueOutcome::Conflict) {
            return Ok(outcomes);
        }
        insert_fresh(conn, backend, tables, max_bytes, messages, &outcomes).await?;
        return Ok(outcomes);
    }
    // SQLite and PostgreSQL write first (a read before the write would make a deferred
    // SQLite transaction fail to upgrade when another writer committed in between), then
    // compare the ids that were already there.
    let inserted = insert_fresh(conn, backend, tables, max_bytes, messages, &outcomes).await?;
    let there: Vec<Uuid> = messages
        .iter()
        .zip(&outcomes)
        .filter(|(m, o)| **o == EnqueueOutcome::Created && !inserted.contains(&m.id.as_uuid()))
        .map(|(m, _)| m.id.as_uuid())
        .collect();
    if !there.is_empty() {
        let before = existing(conn, backend, tables, &there).await?;
        for (m, outcome) in messages.iter().zip(outcomes.iter_mut()) {
            if *outcome == EnqueueOutcome::Created && !inserted.contains(&m.id.as_uuid()) {
                *outcome = match before.get(&m.id.as_uuid()) {
                    Some(hash) if *hash != m.content_hash => EnqueueOutcome::Conflict,
                    _ => EnqueueOutcome::Existing,
                };
            }
        }
    }
    Ok(outcomes)
}

/// Marks messages whose id is in `before` as existing (same hash) or conflicting.
fn compare(
    messages: &[NewMessage],
    outcomes: &mut [EnqueueOutcome],
    before: &HashMap<Uuid, String>,
) {
    for (m, outcome) in messages.iter().zip(outcomes.iter_mut()) {
        if *outcome != EnqueueOutcome::Created {
            continue;
        }
        *outcome = match before.get(&m.id.as_uuid()) {
            None => EnqueueOutcome::Created,
            Some(hash) if *hash == m.content_hash => EnqueueOutcome::Existing,
            Some(_) => EnqueueOutcome::Conflict,
        };
    }
}

/// Inserts the messages still marked created, in statements bounded by rows and by
/// `max_bytes` of payloads and headers (the store's statement bound; a single larger
/// message gets a statement of its own); returns the ids inserted (SQLite and PostgreSQL:
/// the rows not already there).
async fn insert_fresh<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    max_bytes: usize,
    messages: &[NewMessage],
    outcomes: &[EnqueueOutcome],
) -> Result<std::collections::HashSet<Uuid>, StoreError> {
    let fresh: Vec<&NewMessage> = messages
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| **o == EnqueueOutcome::Created)
        .map(|(m, _)| m)
        .collect();
    let mut inserted = std::collections::HashSet::with_capacity(fresh.len());
    let mut start = 0;
    while start < fresh.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < fresh.len()
            && end - start < MAX_ROWS
            && (end == start || bytes + weight(fresh[end]) <= max_bytes)
        {
            bytes += weight(fresh[end]);
            end += 1;
        }
        inserted.extend(insert(conn, backend, tables, &fresh[start..end]).await?);
        start = end;
    }
    Ok(inserted)
}

fn weight(m: &NewMessage) -> usize {
    m.payload.len() + m.headers.len() + 1024
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    rows: &[&NewMessage],
) -> Result<Vec<Uuid>, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO ").push(&tables.outbox).push(
        " (id, topic, msg_key, payload, headers, correlation_id, content_hash, status, \
         attempts, max_attempts, blocks, next_attempt_at, created_at) VALUES ",
    );
    for (i, m) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(message_id(m.id))
            .push(", ")
            .bind(m.topic.clone())
            .push(", ")
            .bind(m.key.clone())
            .push(", ")
            .bind(m.payload.clone())
            .push(", ")
            .bind(m.headers.clone())
            .push(", ")
            .bind(m.correlation_id.clone())
            .push(", ")
            .bind(m.content_hash.clone())
            .push(", 'pending', 0, ")
            .bind(i64::from(m.max_attempts))
            .push(", 0, ")
            .now()
            .push(", ")
            .now()
            .push(")");
    }
    // MySQL counts a duplicate left alone as a found row, so it cannot tell a racing
    // duplicate from an insert: there a racing duplicate fails the statement instead (the
    // caller retries and then finds the id). The others return the ids they inserted.
    if backend == Backend::MySql {
        conn.execute_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
        return Ok(rows.iter().map(|m| m.id.as_uuid()).collect());
    }
    sql.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
    let returned = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    returned.iter().map(|row| uuid_col(row, 0, WHAT)).collect()
}
