//! Inserting commands: one multi-row statement, duplicates by idempotency key skipped and
//! resolved to the existing row's id, and (PostgreSQL) a `NOTIFY` for due commands.

use std::collections::HashMap;

use orch_core::store::{InsertCommand, Inserted, StoreError};
use orch_core::{CommandId, When};
use sea_orm::ConnectionTrait;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{id_value, micros, millis, uuid_col};
use crate::tables::Tables;

/// Rows per statement: 12 values each stays far below every backend's bind limit.
pub(crate) const CHUNK: usize = 1000;

/// Inserts `commands` through `conn` (a pool, or the caller's own transaction).
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    commands: &[InsertCommand],
) -> Result<Vec<Inserted>, StoreError> {
    for chunk in commands.chunks(CHUNK) {
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
            Inserted {
                id,
                created: id == c.id,
            }
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
        return postgres_statement(tables, chunk, notify);
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
            sql.push(" ON CONFLICT (idempotency_key) DO NOTHING");
            if notify {
                sql.push(" RETURNING id) SELECT (SELECT count(*) FROM ins) AS n, pg_notify(")
                    .bind(tables.channel.clone())
                    .push(", '')");
            }
        }
        Backend::Sqlite => {
            sql.push(" ON CONFLICT (idempotency_key) DO NOTHING");
        }
        Backend::MySql => {
            sql.push(" ON DUPLICATE KEY UPDATE id = id");
        }
    }
    sql.build()
}

/// PostgreSQL: one array per column, so the statement text is the same for any number of
/// rows (one prepared statement) and the parameters stay at twelve. Array elements cannot be
/// NULL through the driver, so sentinels stand for NULL: `i64::MIN` (no absolute due time),
/// `''` (no idempotency key), the nil uuid (no parent).
#[cfg(feature = "postgres")]
fn postgres_statement(
    tables: &Tables,
    chunk: &[InsertCommand],
    notify: bool,
) -> sea_orm::Statement {
    use sea_orm::Value;
    use sea_orm::sea_query::ArrayType;
    let column = |ty: ArrayType, f: &dyn Fn(&InsertCommand) -> Value| {
        Value::Array(ty, Some(Box::new(chunk.iter().map(f).collect())))
    };
    let due = |c: &InsertCommand| match c.when {
        When::At(at) => (at.timestamp_micros(), 0),
        When::After(d) => (i64::MIN, micros(d)),
        _ => (i64::MIN, 0),
    };
    let arrays = [
        (
            column(ArrayType::Uuid, &|c| c.id.as_uuid().into()),
            "uuid[]",
        ),
        (
            column(ArrayType::String, &|c| c.name.clone().into()),
            "text[]",
        ),
        (
            column(ArrayType::String, &|c| c.target.clone().into()),
            "text[]",
        ),
        (
            column(ArrayType::String, &|c| c.input.clone().into()),
            "text[]",
        ),
        (
            column(ArrayType::Int, &|c| {
                i32::try_from(c.max_attempts).unwrap_or(i32::MAX).into()
            }),
            "integer[]",
        ),
        (
            column(ArrayType::BigInt, &|c| millis(c.timeout).into()),
            "bigint[]",
        ),
        (column(ArrayType::BigInt, &|c| due(c).0.into()), "bigint[]"),
        (column(ArrayType::BigInt, &|c| due(c).1.into()), "bigint[]"),
        (
            column(ArrayType::String, &|c| {
                c.idempotency_key.clone().unwrap_or_default().into()
            }),
            "text[]",
        ),
        (
            column(ArrayType::Uuid, &|c| {
                c.parent_id
                    .map_or(uuid::Uuid::nil(), |p| p.as_uuid())
                    .into()
            }),
            "uuid[]",
        ),
    ];
    let mut sql = Sql::new(Backend::Postgres);
    if notify {
        sql.push("WITH ins AS (");
    }
    sql.push("INSERT INTO ")
        .push(&tables.commands)
        .push(" (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at, idempotency_key, parent_id) SELECT u_id, u_name, u_target, 'pending', u_input, 0, u_max, u_timeout, CASE WHEN u_at = -9223372036854775808 THEN ")
        .now()
        .push(" + u_delay ELSE u_at END, ")
        .now()
        .push(", NULLIF(u_key, ''), NULLIF(u_parent, '00000000-0000-0000-0000-000000000000'::uuid) FROM unnest(");
    for (i, (array, ty)) in arrays.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(array).push("::").push(ty);
    }
    sql.push(") AS u(u_id, u_name, u_target, u_input, u_max, u_timeout, u_at, u_delay, u_key, u_parent) ON CONFLICT (idempotency_key) DO NOTHING");
    if notify {
        sql.push(" RETURNING id) SELECT (SELECT count(*) FROM ins) AS n, pg_notify(")
            .bind(tables.channel.clone())
            .push(", '')");
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
