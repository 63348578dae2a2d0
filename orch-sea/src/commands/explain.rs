//! Running a statement under `EXPLAIN`, for the hooks that show tests and tools what a
//! claim or a finish reads (`claim/inspect.rs`, `finish/inspect.rs`).

use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

use crate::backend::Backend;
use crate::error::db_error;

/// PostgreSQL: the plan of a statement as a prepared statement runs it under its generic
/// plan (as the claims pool's sessions run the claim, `plan_cache_mode =
/// force_generic_plan`, which the caller sets in `txn`): planned without its values, which
/// `EXPLAIN` of the statement itself would plan with. `text` (with its placeholders) is
/// prepared under a name of its own, explained as `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
/// EXECUTE` of that name with `arguments` (its values as literals, see
/// `Sql::into_prepared_parts`: a utility statement binds no parameters), and deallocated;
/// `txn` is then rolled back. If the statement fails, its prepared form stays in the
/// session until the connection closes.
#[cfg(feature = "postgres")]
pub(crate) async fn generic_plan(
    txn: DatabaseTransaction,
    (text, arguments): (String, String),
    what: &str,
) -> Result<String, StoreError> {
    let name = format!("orch_explain_{}", uuid::Uuid::new_v4().simple());
    txn.execute_unprepared(&format!("PREPARE {name} AS {text}"))
        .await
        .map_err(|e| db_error(what, e))?;
    let explain = Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}({arguments})"),
    );
    let row = txn
        .query_one_raw(explain)
        .await
        .map_err(|e| db_error(what, e))?
        .ok_or_else(|| db_error(what, sea_orm::DbErr::RecordNotFound("no plan".into())))?;
    let plan = row
        .try_get_by_index::<serde_json::Value>(0)
        .map(|v| v.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .map_err(|e| db_error(what, e))?;
    txn.execute_unprepared(&format!("DEALLOCATE {name}"))
        .await
        .map_err(|e| db_error(what, e))?;
    txn.rollback().await.map_err(|e| db_error(what, e))?;
    Ok(plan)
}

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
