//! Inserting commands: one multi-row statement, duplicates by idempotency key skipped and
//! resolved to the existing row's id, and (PostgreSQL) a `NOTIFY` for due commands.

use std::collections::HashMap;

use orch_core::Pushed;
use orch_core::store::{InsertCommand, StoreError};
use orch_core::{CommandId, When};
use sea_orm::ConnectionTrait;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{id_value, micros, millis, uuid_col};
use crate::tables::Tables;

#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod together;

/// Rows per statement: 12 values each stays far below every backend's bind limit.
pub(crate) const CHUNK: usize = 1000;

/// The bytes a row adds to its statement beside its input and key, roughly (its other
/// values, their placeholders and the SQL text around them).
const ROW_OVERHEAD: usize = 256;

/// Splits `commands` into statements of at most [`CHUNK`] rows and about `max_bytes`
/// bytes (the store's statement bound; a single larger command gets a statement of its
/// own).
pub(crate) fn chunks(commands: &[InsertCommand], max_bytes: usize) -> Vec<&[InsertCommand]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, command) in commands.iter().enumerate() {
        let size = command.input.len()
            + command.idempotency_key.as_ref().map_or(0, String::len)
            + ROW_OVERHEAD;
        if i > start && (i - start == CHUNK || bytes + size > max_bytes) {
            chunks.push(&commands[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < commands.len() {
        chunks.push(&commands[start..]);
    }
    chunks
}

/// Writes `commands` that orch commits itself: in one statement, atomic on its own, or in
/// a transaction when they need more than one.
pub(crate) async fn write(
    store: &crate::store::Inner,
    commands: &[InsertCommand],
) -> Result<Vec<Pushed>, StoreError> {
    let (db, backend, tables) = (&store.db, store.backend, &store.tables);
    let max_bytes = store.limit.max_bytes;
    if chunks(commands, max_bytes).len() <= 1 {
        return insert(db, backend, tables, false, max_bytes, commands).await;
    }
    let txn = crate::sql::begin_write(db, "insert commands").await?;
    let inserted = insert(&txn, backend, tables, false, max_bytes, commands).await?;
    txn.commit()
        .await
        .map_err(|e| db_error("insert commands", e))?;
    Ok(inserted)
}

/// Inserts `commands` through `conn` (a pool, or the caller's own transaction), in
/// statements of at most about `max_bytes` bytes (see [`chunks`]).
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    max_bytes: usize,
    commands: &[InsertCommand],
) -> Result<Vec<Pushed>, StoreError> {
    for chunk in chunks(commands, max_bytes) {
        let due_now = notify && chunk.iter().any(|c| c.when == When::Now);
        let stmt = statement(backend, tables, chunk, due_now);
        conn.execute_raw(stmt)
            .await
            .map_err(|e| db_error("insert commands", e))?;
    }
    let keys: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.idempotency_key.as_deref())
        .collect();
    let existing = if keys.is_empty() {
        HashMap::new()
    } else {
        existing_ids(conn, backend, tables, &keys).await?
    };
    Ok(commands
        .iter()
        .map(|c| {
            let id = c
                .idempotency_key
                .as_deref()
                .and_then(|k| existing.get(k).copied())
                .unwrap_or(c.id);
            Pushed::new(id, id == c.id)
        })
        .collect())
}

fn statement(
    backend: Backend,
    tables: &Tables,
    chunk: &[InsertCommand],
    notify: bool,
) -> sea_orm::Statement {
    #[cfg(feature = "postgres")]
    if backend == Backend::Postgres {
        return postgres::statement(tables, chunk, notify);
    }
    let mut sql = Sql::new(backend);
    if backend == Backend::Postgres && notify {
        sql.push("WITH ins AS (");
    }
    sql.push("INSERT INTO ")
        .push(&tables.commands)
    .push(
        " (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at, idempotency_key, parent_id) VALUES ",
    );
    for (i, c) in chunk.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(id_value(c.id))
            .push(", ")
            .bind(c.name.clone())
            .push(", ")
            .bind(c.target.clone())
            .push(", 'pending', ")
            .bind(c.input.clone())
            .push(", 0, ")
            .bind(i64::from(c.max_attempts))
            .push(", ")
            .bind(millis(c.timeout))
            .push(", ");
        match c.when {
            When::At(at) => {
                sql.bind(at.timestamp_micros());
            }
            When::After(delay) => {
                sql.now().push(" + ").bind(micros(delay));
            }
            _ => {
                sql.now();
            }
        }
        sql.push(", ").now().push(", ");
        sql.bind(c.idempotency_key.clone())
            .push(", ")
            .bind(c.parent_id.map(|p| p.as_uuid()))
            .push(")");
    }
    match backend {
        Backend::Postgres => {
            sql.push(" ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING");
            if notify {
                sql.push(" RETURNING id) SELECT (SELECT count(*) FROM ins) AS n, pg_notify(")
                    .bind(tables.channel.clone())
                    .push(", '')");
            }
        }
        Backend::Sqlite => {
            sql.push(" ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING");
        }
        Backend::MySql => {
            sql.push(" ON DUPLICATE KEY UPDATE id = id");
        }
    }
    sql.build()
}

async fn existing_ids<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    keys: &[&str],
) -> Result<HashMap<String, CommandId>, StoreError> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, idempotency_key FROM ")
            .push(&tables.commands)
            .push(" WHERE idempotency_key IN ")
            .bind_list(chunk.iter().map(|k| (*k).to_owned()));
        if backend == Backend::MySql {
            // A locking read sees the newest committed row: inside the caller's REPEATABLE
            // READ transaction a plain read would use a snapshot older than a duplicate that
            // another transaction committed since, and report an id that does not exist.
            sql.push(" LOCK IN SHARE MODE");
        }
        let rows = conn
            .query_all_raw(sql.build())
            .await
            .map_err(|e| db_error("read commands by idempotency key", e))?;
        for row in rows {
            let id = uuid_col(&row, 0, "read an idempotency key")?;
            let key: String = crate::sql::col(&row, 1, "read an idempotency key")?;
            found.insert(key, CommandId::from_uuid(id));
        }
    }
    Ok(found)
}
