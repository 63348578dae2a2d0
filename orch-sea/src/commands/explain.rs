//! Running a statement under `EXPLAIN`, for the hooks that show tests and tools what a
//! claim or a finish reads (`claim/inspect.rs`, `finish/inspect.rs`).

use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

use crate::backend::Backend;
use crate::error::db_error;

/// Runs `statement` under the backend's `EXPLAIN` in `txn`, then rolls `txn` back: on
/// PostgreSQL `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` (the statement really runs, so the
/// plan holds the rows it read) as one JSON document; on SQLite the `EXPLAIN QUERY PLAN`
/// details, one per line. `None` on MySQL/MariaDB.
pub(crate) async fn plan(
    txn: DatabaseTransaction,
    backend: Backend,
    statement: Statement,
    what: &str,
) -> Result<Option<String>, StoreError> {
    let prefix = match backend {
        Backend::Postgres => "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ",
        Backend::Sqlite => "EXPLAIN QUERY PLAN ",
        Backend::MySql => return Ok(None),
    };
    let explain = Statement::from_sql_and_values(
        statement.db_backend,
        format!("{prefix}{}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = txn
        .query_all_raw(explain)
        .await
        .map_err(|e| db_error(what, e))?;
    txn.rollback().await.map_err(|e| db_error(what, e))?;
    // PostgreSQL: one JSON document; SQLite: (id, parent, notused, detail) rows.
    let column = usize::from(backend == Backend::Sqlite) * 3;
    let lines = rows
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(column)
                .or_else(|_| {
                    row.try_get_by_index::<serde_json::Value>(column)
                        .map(|v| v.to_string())
                })
                .map_err(|e| db_error(what, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(lines.join("\n")))
}
