//! The MySQL/MariaDB finish. Neither has `UPDATE … RETURNING`, so which rows matched the
//! fence is learnt from the count of rows the update matched:
//!
//! 1. One joined `UPDATE`, fenced in SQL like the other backends' statements. When it
//!    matched every row of the batch (the common case: each attempt still holds its
//!    lease), every attempt applied, and that is all.
//! 2. Otherwise the transaction is rolled back and the batch applied again in a new one:
//!    the rows that still match the fence are locked with `SELECT … FOR UPDATE` first, and
//!    the joined `UPDATE` then changes exactly those.
//!
//! With `delete_succeeded`, a `DELETE` of the succeeded rows comes first in both (see
//! `delete.rs`), and the rows it deleted count as matched.

use std::collections::{HashMap, HashSet};

use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use uuid::Uuid;

use super::{Fence, Row, TextWidths, bind_row, fence, set_list};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{begin_write, uuid_col};
use crate::tables::Tables;

const WHAT: &str = "record finished attempts";

const BACKEND: Backend = Backend::MySql;

/// Applies `rows` in a new transaction, which it returns uncommitted (for the error rows
/// and follow-ups of the attempts that applied) with those attempts, `(id, lease token)`.
/// With `delete` (the batch's fence), rows that succeeded are deleted instead where they
/// have no idempotency key (see `delete.rs`).
pub(super) async fn update(
    db: &DatabaseConnection,
    tables: &Tables,
    rows: &[Row],
    delete: Option<Fence>,
) -> Result<(DatabaseTransaction, HashSet<(Uuid, Uuid)>), StoreError> {
    let txn = begin_write(db, WHAT).await?;
    let taken: Vec<&Row> = rows
        .iter()
        .filter(|r| super::delete::succeeded(r))
        .collect();
    let mut deleted = 0;
    if delete.is_some() && !taken.is_empty() {
        let statement = super::delete::statement(BACKEND, tables, &taken, delete);
        deleted = txn
            .execute_raw(statement.build())
            .await
            .map_err(|e| db_error(WHAT, e))?
            .rows_affected();
    }
    // When every succeeded row was deleted, only the others are left to update.
    let rest: Vec<&Row> = if delete.is_some() && count_is(deleted, taken.len()) {
        rows.iter()
            .filter(|r| !super::delete::succeeded(r))
            .collect()
    } else {
        rows.iter().collect()
    };
    let matched = if rest.is_empty() {
        0
    } else {
        txn.execute_raw(joined_update(tables, rest, true))
            .await
            .map_err(|e| db_error(WHAT, e))?
            .rows_affected()
    };
    // The update changes each table row once, so a count equal to the batch's means every
    // row of the batch matched a row of its own (sqlx asks the server for rows matched, not
    // rows changed; every finish changes `status` anyway). Deleted rows no longer match it.
    if count_is(deleted + matched, rows.len()) {
        if deleted > 0 {
            let ids: Vec<Uuid> = taken.iter().map(|r| r.id).collect();
            super::delete::errors_of_deleted(&txn, BACKEND, tables, &ids).await?;
        }
        return Ok((txn, rows.iter().map(|r| (r.id, r.token)).collect()));
    }
    txn.rollback().await.map_err(|e| db_error(WHAT, e))?;
    let txn = begin_write(db, WHAT).await?;
    let applied = lock_then_update(&txn, tables, rows, delete.is_some()).await?;
    Ok((txn, applied))
}

/// Whether a count of rows from the server is `n`.
fn count_is(count: u64, n: usize) -> bool {
    usize::try_from(count).is_ok_and(|c| c == n)
}

/// The batch applied row by row as far as it matches: the rows still running under their
/// lease are locked first, and only those are updated (or, with `delete`, deleted when
/// they succeeded and have no idempotency key).
async fn lock_then_update<C: ConnectionTrait>(
    conn: &C,
    tables: &Tables,
    rows: &[Row],
    delete: bool,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let mut sql = Sql::new(BACKEND);
    sql.push("SELECT id, lease_token, ")
        .push("CASE WHEN lease_expires_at < ")
        .now()
        .push(" THEN 1 ELSE 0 END FROM ")
        .push(&tables.commands)
        .push(" WHERE status = 'running' AND id IN ")
        .bind_list(rows.iter().map(|r| r.id))
        .push(" FOR UPDATE");
    let locked = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let fences: HashMap<(Uuid, Uuid), i32> = rows
        .iter()
        .map(|r| ((r.id, r.token), r.expired_only))
        .collect();
    let mut matched = HashSet::new();
    for row in &locked {
        let id = uuid_col(row, 0, WHAT)?;
        let Some(token) = crate::sql::col::<Option<Uuid>>(row, 1, WHAT)? else {
            continue;
        };
        let expired: i64 = crate::sql::col::<i64>(row, 2, WHAT)
            .or_else(|_| crate::sql::col::<i32>(row, 2, WHAT).map(i64::from))?;
        let holds = fences.get(&(id, token)).is_some_and(|&only| match only {
            1 => expired == 1,
            2 => expired == 0,
            _ => true,
        });
        if holds {
            matched.insert((id, token));
        }
    }
    let hit: Vec<&Row> = rows
        .iter()
        .filter(|r| matched.contains(&(r.id, r.token)))
        .collect();
    let taken: Vec<&Row> = hit
        .iter()
        .copied()
        .filter(|r| delete && super::delete::succeeded(r))
        .collect();
    if !taken.is_empty() {
        // Locked and checked above: no fence beyond the lease token.
        let statement = super::delete::statement(BACKEND, tables, &taken, None);
        conn.execute_raw(statement.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
        let ids: Vec<Uuid> = taken.iter().map(|r| r.id).collect();
        super::delete::errors_of_deleted(conn, BACKEND, tables, &ids).await?;
    }
    if !hit.is_empty() {
        conn.execute_raw(joined_update(tables, hit, false))
            .await
            .map_err(|e| db_error(WHAT, e))?;
    }
    Ok(matched)
}

/// `UPDATE commands AS c JOIN (the rows, one `SELECT` each) AS v ON c.id = v.v_id SET …`,
/// fenced on the lease; with `expiry`, also on the rows' lease expiry (otherwise the
/// caller has checked it under lock).
fn joined_update<'r>(
    tables: &Tables,
    rows: impl IntoIterator<Item = &'r Row> + Clone,
    expiry: bool,
) -> sea_orm::Statement {
    let widths = TextWidths::of(rows.clone());
    let mut sql = Sql::new(BACKEND);
    sql.push("UPDATE ")
        .push(&tables.commands)
        .push(" AS c JOIN (");
    for (i, row) in rows.into_iter().enumerate() {
        sql.push(if i == 0 {
            "SELECT "
        } else {
            " UNION ALL SELECT "
        });
        bind_row(&mut sql, row, i == 0, (i == 0).then_some(&widths));
    }
    sql.push(") AS v ON c.id = v.v_id SET ");
    set_list(&mut sql, "c.");
    if expiry {
        sql.push(" WHERE TRUE");
        fence(&mut sql, "c");
    } else {
        sql.push(" WHERE c.status = 'running' AND c.lease_token = v.v_token");
    }
    sql.build()
}
