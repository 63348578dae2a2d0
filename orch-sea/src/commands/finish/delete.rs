//! Finishes that delete what succeeded (`SeaStoreConfig::delete_succeeded`).
//!
//! A row whose attempt succeeded, still matches its fence, and has no idempotency key is
//! deleted instead of updated, with the error rows of its earlier attempts; every other row
//! of the batch is updated as usual. Rows with a key are kept, so the key goes on refusing
//! duplicates. Per backend:
//! - PostgreSQL: one statement, whose CTEs delete the succeeded rows (and their error rows)
//!   and update the others. Both CTEs see the same snapshot and must not touch one row
//!   twice, so the update's condition excludes exactly the rows the delete's takes.
//! - SQLite: in the finish's transaction, a `DELETE … RETURNING` of the succeeded rows, then
//!   the usual update of the batch (the deleted rows no longer match it), then their
//!   error rows. A batch without follow-ups or failures first deletes, outside any
//!   transaction, the rows that never failed; only what is left takes a transaction.
//! - MySQL/MariaDB: the same `DELETE` before the joined update (`mysql.rs`), which learns
//!   from counts, or under lock, which attempts applied.

use std::collections::HashSet;

use orch_core::CommandStatus;
use orch_core::store::StoreError;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{Fence, Row, WHAT, update_returning};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, uuid_col};
use crate::tables::Tables;

/// Whether `row` is one a delete takes (when it still matches its fence and has no key).
pub(super) fn succeeded(row: &Row) -> bool {
    row.status == CommandStatus::Succeeded
}

/// PostgreSQL: the whole finish of `rows` as one statement returning the attempts that
/// applied, deleted or updated.
#[cfg(feature = "postgres")]
pub(super) fn postgres(sql: &mut Sql, tables: &Tables, rows: &[Row]) {
    let (t, errors) = (&tables.commands, &tables.errors);
    let taken = "v.v_status = 'succeeded' AND c.idempotency_key IS NULL";
    sql.push("WITH v AS (");
    super::unnest_rows(sql, rows);
    sql.push("), del AS (DELETE FROM ")
        .push(t)
        .push(" AS c USING v WHERE c.id = v.v_id AND ")
        .push(taken);
    super::fence(sql, "c");
    // Only a finish writes error rows, and the same statement sets `last_error`: a row
    // without one has no error rows to look up.
    sql.push(" RETURNING c.id, c.lease_token, c.last_error IS NOT NULL AS failed), gone AS (DELETE FROM ")
        .push(errors)
        .push(" AS e USING del WHERE del.failed AND e.command_id = del.id), upd AS (UPDATE ")
        .push(t)
        .push(" AS c SET ");
    super::set_list(sql, "");
    sql.push(" FROM v WHERE c.id = v.v_id AND NOT (")
        .push(taken)
        .push(")");
    super::fence(sql, "c");
    sql.push(
        " RETURNING c.id, c.lease_token) SELECT id, lease_token FROM del UNION ALL SELECT id, lease_token FROM upd",
    );
}

/// SQLite, in the finish's transaction `txn`: deletes the succeeded rows of `rows` that
/// still match `fence`, updates the rest, deletes the deleted rows' error rows; returns
/// every attempt that applied.
pub(super) async fn sqlite<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    rows: &[Row],
    fence: Fence,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let taken: Vec<&Row> = rows.iter().filter(|r| succeeded(r)).collect();
    if taken.is_empty() {
        // What is left after `sqlite_plain` may hold no success (a release, say).
        return update_returning(txn, Backend::Sqlite, tables, rows, false).await;
    }
    let mut sql = statement(Backend::Sqlite, tables, &taken, Some(fence));
    // A row without `last_error` has no error rows (see `postgres`).
    sql.push(" RETURNING id, lease_token, last_error IS NOT NULL");
    let returned = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut deleted = HashSet::new();
    let mut failed = Vec::new();
    for row in &returned {
        let id = uuid_col(row, 0, WHAT)?;
        deleted.insert((id, uuid_col(row, 1, WHAT)?));
        if col::<bool>(row, 2, WHAT)? {
            failed.push(id);
        }
    }
    let mut applied = update_returning(txn, Backend::Sqlite, tables, rows, false).await?;
    errors_of_deleted(txn, Backend::Sqlite, tables, &failed).await?;
    applied.extend(deleted);
    Ok(applied)
}

/// SQLite, outside a transaction: deletes the succeeded rows of `rows` that still match
/// `fence`, have no key and never failed (so have no error rows); returns their attempts.
/// One statement, atomic on its own.
pub(super) async fn sqlite_plain<C: ConnectionTrait>(
    conn: &C,
    tables: &Tables,
    rows: &[Row],
    fence: Fence,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let taken: Vec<&Row> = rows.iter().filter(|r| succeeded(r)).collect();
    if taken.is_empty() {
        return Ok(HashSet::new());
    }
    let mut sql = statement(Backend::Sqlite, tables, &taken, Some(fence));
    sql.push(" AND last_error IS NULL RETURNING id, lease_token");
    super::attempts_returned(conn, sql).await
}

/// `DELETE FROM commands WHERE …` the rows of `taken` (at least one) still running under their lease and
/// without an idempotency key; with `fence`, also only while the lease is expired (the
/// reaper) or live (a settle), as that fence says; without it, the caller has checked the
/// lease under lock. SQLite and MySQL/MariaDB.
pub(super) fn statement(
    backend: Backend,
    tables: &Tables,
    taken: &[&Row],
    fence: Option<Fence>,
) -> Sql {
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM ")
        .push(&tables.commands)
        .push(" WHERE status = 'running' AND idempotency_key IS NULL AND id IN ")
        .bind_list(taken.iter().map(|r| r.id))
        .push(" AND (id, lease_token) IN (");
    // The `id IN` list drives the lookups by primary key; the pairs only filter.
    if backend == Backend::Sqlite {
        sql.push("VALUES ");
    }
    for (i, row) in taken.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" })
            .bind(row.id)
            .push(", ")
            .bind(row.token)
            .push(")");
    }
    sql.push(")");
    match fence {
        Some(Fence::ExpiredLease) => {
            sql.push(" AND lease_expires_at < ").now();
        }
        Some(Fence::LiveLease) => {
            sql.push(" AND lease_expires_at >= ").now();
        }
        Some(Fence::Lease) | None => {}
    }
    sql
}

/// Deletes the error rows of commands among `ids` that no longer exist (those a finish
/// deleted); a command still present keeps its errors. Plain reads find them first, so no
/// locking read touches the commands table (under MySQL's `REPEATABLE READ` a subquery of a
/// `DELETE` would lock the gaps around the deleted ids, and pushes would wait on them), and
/// the common case, commands that never failed, ends after one lookup of the errors index.
pub(super) async fn errors_of_deleted<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    ids: &[Uuid],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let with_errors = ids_in(conn, backend, "command_id", &tables.errors, ids).await?;
    if with_errors.is_empty() {
        return Ok(());
    }
    let present = ids_in(conn, backend, "id", &tables.commands, &with_errors).await?;
    let gone: Vec<Uuid> = with_errors
        .into_iter()
        .filter(|id| !present.contains(id))
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM ")
        .push(&tables.errors)
        .push(" WHERE command_id IN ")
        .bind_list(gone);
    conn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(())
}

/// The distinct values of `column` in `table` among `ids`, by a plain read.
async fn ids_in<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    column: &str,
    table: &str,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT DISTINCT {column} FROM "))
        .push(table)
        .push(&format!(" WHERE {column} IN "))
        .bind_list(ids.iter().copied());
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    rows.iter().map(|row| uuid_col(row, 0, WHAT)).collect()
}
