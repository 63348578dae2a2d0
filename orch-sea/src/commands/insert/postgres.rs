//! The PostgreSQL insert: every column bound as one array and expanded with `unnest`.

use orch_core::When;
use orch_core::store::InsertCommand;

use crate::backend::Backend;
use crate::sql::{Sql, micros, millis};
use crate::tables::Tables;

/// PostgreSQL: one array per column, so the statement text is the same for any number of
/// rows (one prepared statement) and the parameters stay at ten arrays (and the channel, when notifying). Array elements cannot be
/// NULL through the driver, so sentinels stand for NULL: `i64::MIN` (no absolute due time),
/// `''` (no idempotency key), the nil uuid (no parent).
pub(super) fn statement(
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
    sql.push(") AS u(u_id, u_name, u_target, u_input, u_max, u_timeout, u_at, u_delay, u_key, u_parent) ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING");
    if notify {
        sql.push(" RETURNING id) SELECT (SELECT count(*) FROM ins) AS n, pg_notify(")
            .bind(tables.channel.clone())
            .push(", '')");
    }
    sql.build()
}
