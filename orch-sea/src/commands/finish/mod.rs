//! Fenced end-of-attempt transitions, many per statement.
//!
//! Every row of a batch is matched on `(id, lease_token, status = 'running')` (and, for the
//! reaper, on an expired lease); only the rows that matched get their error rows and
//! follow-ups, in the same transaction. PostgreSQL and SQLite learn which rows matched from
//! `RETURNING`; MySQL/MariaDB from the count of rows matched, or when some did not match,
//! by locking the matching rows with `SELECT … FOR UPDATE` first (`mysql.rs`).

use std::collections::HashSet;

use orch_core::CommandStatus;
use orch_core::store::{Finish, FinishOutcome, InsertCommand, StoreError};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::SqlType;
use crate::sql::{id_value, micros, uuid_col};
use crate::store::Inner;
use crate::tables::Tables;

mod delete;
mod inspect;
mod mysql;

const WHAT: &str = "record finished attempts";

/// What a transition is fenced on beyond `(id, status = 'running', lease_token)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fence {
    /// The lease alone (a worker finishing its own attempt).
    Lease,
    /// The lease, and only while it is expired by the database's clock (the reaper).
    ExpiredLease,
    /// The lease, and only while it has not expired (the work-queue API's settles).
    LiveLease,
}

impl Fence {
    /// The per-row code the statements compare (`v_expired_only`).
    const fn code(self) -> i32 {
        match self {
            Self::Lease => 0,
            Self::ExpiredLease => 1,
            Self::LiveLease => 2,
        }
    }
}

/// One row of the transition: the values bound for it.
#[derive(Clone)]
pub(crate) struct Row {
    pub(crate) id: Uuid,
    pub(crate) token: Uuid,
    status: CommandStatus,
    output: Option<String>,
    delay_us: Option<i64>,
    refund: i32,
    error: Option<String>,
    pub(crate) expired_only: i32,
}

impl Row {
    fn of(finish: &Finish, fence: Fence) -> Self {
        let (status, output, delay_us, refund, error) = match &finish.outcome {
            FinishOutcome::Succeeded { output } => (
                CommandStatus::Succeeded,
                Some(output.clone()),
                None,
                0,
                None,
            ),
            FinishOutcome::Retry { failure, delay } => (
                CommandStatus::Pending,
                None,
                Some(micros(*delay)),
                0,
                Some(failure.message.clone()),
            ),
            FinishOutcome::Dead { failure } => (
                CommandStatus::Dead,
                None,
                None,
                0,
                Some(failure.message.clone()),
            ),
            FinishOutcome::Exhausted { failure } => (
                CommandStatus::Dead,
                None,
                None,
                1,
                Some(failure.message.clone()),
            ),
            _ => (CommandStatus::Pending, None, Some(0), 1, None),
        };
        Self {
            id: finish.id.as_uuid(),
            token: finish.lease.as_uuid(),
            status,
            output,
            delay_us,
            refund,
            // An empty message would read as "no error" in the PostgreSQL array path.
            error: error.map(|e| {
                if e.is_empty() {
                    "(no message)".to_owned()
                } else {
                    e
                }
            }),
            expired_only: fence.code(),
        }
    }
}

pub(crate) async fn finish(
    store: &Inner,
    notify: bool,
    batch: &[Finish],
    fence: Fence,
) -> Result<Vec<bool>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let (db, backend, tables) = (&store.db, store.backend, &store.tables);
    let _turn = store.sqlite_write_turn().await;
    let rows: Vec<Row> = batch.iter().map(|f| Row::of(f, fence)).collect();
    let delete = deletes(store, &rows);
    let needs_more = batch
        .iter()
        .any(|f| !f.follow_ups.is_empty() || failure_of(f).is_some());
    if !needs_more && (backend == Backend::Postgres || (backend == Backend::Sqlite && !delete)) {
        // A lone statement commits atomically: skip BEGIN/COMMIT.
        let applied = update_returning(db, backend, tables, &rows, delete).await?;
        return Ok(flags(batch, &applied));
    }
    if !needs_more && backend == Backend::Sqlite {
        // Each row's transition stands alone: the rows a lone `DELETE` can take (succeeded,
        // never failed, no key) go first, and only what is left needs a transaction.
        let mut applied = delete::sqlite_plain(db, tables, &rows, fence).await?;
        let rest: Vec<Row> = rows
            .iter()
            .filter(|r| !applied.contains(&(r.id, r.token)))
            .cloned()
            .collect();
        if !rest.is_empty() {
            let txn = crate::sql::begin_write(db, WHAT).await?;
            applied.extend(delete::sqlite(&txn, tables, &rest, fence).await?);
            txn.commit().await.map_err(|e| db_error(WHAT, e))?;
        }
        return Ok(flags(batch, &applied));
    }
    let (txn, applied) = match backend {
        Backend::MySql => mysql::update(db, tables, &rows, delete.then_some(fence)).await?,
        Backend::Sqlite if delete => {
            let txn = crate::sql::begin_write(db, WHAT).await?;
            let applied = delete::sqlite(&txn, tables, &rows, fence).await?;
            (txn, applied)
        }
        _ => {
            let txn = crate::sql::begin_write(db, WHAT).await?;
            let applied = update_returning(&txn, backend, tables, &rows, delete).await?;
            (txn, applied)
        }
    };
    let done = flags(batch, &applied);
    let mut follow_ups: Vec<InsertCommand> = Vec::new();
    let mut failures = Vec::new();
    for (finish, ok) in batch.iter().zip(&done) {
        if *ok {
            follow_ups.extend(finish.follow_ups.iter().cloned());
            if let Some(failure) = failure_of(finish) {
                failures.push((finish.id.as_uuid(), failure));
            }
        }
    }
    if !failures.is_empty() {
        insert_errors(&txn, backend, tables, &failures).await?;
    }
    if !follow_ups.is_empty() {
        let max_bytes = store.limit.max_bytes;
        super::insert::insert(&txn, backend, tables, notify, max_bytes, &follow_ups).await?;
    }
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(done)
}

/// Whether recording `rows` deletes the ones that succeeded: `delete_succeeded` is on and
/// at least one did.
fn deletes(store: &Inner, rows: &[Row]) -> bool {
    store.config.delete_succeeded && rows.iter().any(|r| r.status == CommandStatus::Succeeded)
}

fn failure_of(finish: &Finish) -> Option<&orch_core::Failure> {
    match &finish.outcome {
        FinishOutcome::Retry { failure, .. } | FinishOutcome::Dead { failure } => Some(failure),
        _ => None,
    }
}

/// Which finishes applied, matched by attempt `(id, lease token)`: when two attempts of one
/// command meet in a batch, only the one holding the lease applied, and only its error row
/// and follow-ups are written.
fn flags(batch: &[Finish], applied: &HashSet<(Uuid, Uuid)>) -> Vec<bool> {
    batch
        .iter()
        .map(|f| applied.contains(&(f.id.as_uuid(), f.lease.as_uuid())))
        .collect()
}

/// The `SET` list shared by every dialect; `v_*` are the bound row's values.
pub(crate) fn set_list(sql: &mut Sql, qualify: &str) {
    sql.push(&format!("{qualify}status = v.v_status, {qualify}output = v.v_output, {qualify}run_at = CASE WHEN v.v_delay IS NULL THEN {qualify}run_at ELSE "))
        .now()
        .push(&format!(" + v.v_delay END, {qualify}finished_at = CASE WHEN v.v_status IN ('succeeded', 'dead') THEN "))
        .now()
        .push(&format!(" ELSE NULL END, {qualify}attempts = {qualify}attempts - v.v_refund, {qualify}last_error = CASE WHEN v.v_error IS NULL THEN {qualify}last_error ELSE v.v_error END, {qualify}lease_expires_at = NULL"));
}

/// The fence: still running under the same lease (and expired, for the reaper). The rows
/// are found by primary key; the status check serves no index (see [`Sql::status_is`]).
fn fence(sql: &mut Sql, t: &str) {
    sql.push(&format!(" AND {t}.lease_token = v.v_token AND "))
        .status_is(&format!("{t}.status"), "running")
        .push(&format!(
            " AND (v.v_expired_only = 0 OR (v.v_expired_only = 1 AND {t}.lease_expires_at < "
        ))
        .now()
        .push(&format!(
            ") OR (v.v_expired_only = 2 AND {t}.lease_expires_at >= "
        ))
        .now()
        .push("))");
}

/// Binds one row's values, comma-separated; with `alias`, each is named after its
/// `v_*` column (MySQL's derived tables take their column names, and their types, from
/// the first branch).
///
/// `widths` (MySQL's first branch) gives each text column's longest value in the whole
/// statement: a bare placeholder there takes a column type sized when the statement is
/// prepared, which cut longer values of later rows (outputs and errors were cut to 4 KiB),
/// so the first branch casts its text columns to `CHAR(longest)`.
pub(crate) fn bind_row(sql: &mut Sql, row: &Row, alias: bool, widths: Option<&TextWidths>) {
    let names = V_COLUMNS.split(", ");
    let values: [(sea_orm::Value, SqlType); 8] = [
        (row.id.into(), SqlType::Uuid),
        (row.token.into(), SqlType::Uuid),
        (row.status.as_str().into(), SqlType::Text),
        (row.output.clone().into(), SqlType::Text),
        (row.delay_us.into(), SqlType::BigInt),
        (row.refund.into(), SqlType::Int),
        (row.error.clone().into(), SqlType::Text),
        (row.expired_only.into(), SqlType::Int),
    ];
    for (i, ((value, ty), name)) in values.into_iter().zip(names).enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let width = widths.and_then(|w| match i {
            2 => Some(w.status),
            3 => Some(w.output),
            6 => Some(w.error),
            _ => None,
        });
        match width {
            Some(width) => {
                sql.push("CAST(").bind(value).push(&format!(
                    " AS CHAR({}) CHARACTER SET utf8mb4)",
                    width.max(1)
                ));
            }
            None => {
                sql.bind_typed(value, ty);
            }
        }
        if alias {
            sql.push(" AS ").push(name);
        }
    }
}

/// The longest value of each text column over a statement's rows, in bytes.
pub(crate) struct TextWidths {
    status: usize,
    output: usize,
    error: usize,
}

impl TextWidths {
    pub(crate) fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Self {
        let mut widths = Self {
            status: 1,
            output: 1,
            error: 1,
        };
        for row in rows {
            widths.status = widths.status.max(row.status.as_str().len());
            widths.output = widths
                .output
                .max(row.output.as_ref().map_or(0, String::len));
            widths.error = widths.error.max(row.error.as_ref().map_or(0, String::len));
        }
        widths
    }
}

/// Binds the rows as eight typed arrays (PostgreSQL `unnest`).
#[cfg(feature = "postgres")]
fn bind_arrays(sql: &mut Sql, rows: &[Row]) {
    use sea_orm::sea_query::ArrayType;
    let column = |ty: ArrayType, f: &dyn Fn(&Row) -> sea_orm::Value| {
        sea_orm::Value::Array(ty, Some(Box::new(rows.iter().map(f).collect())))
    };
    let arrays = [
        (column(ArrayType::Uuid, &|r| r.id.into()), "uuid[]"),
        (column(ArrayType::Uuid, &|r| r.token.into()), "uuid[]"),
        (
            column(ArrayType::String, &|r| r.status.as_str().into()),
            "text[]",
        ),
        (
            column(ArrayType::String, &|r| {
                r.output.clone().unwrap_or_default().into()
            }),
            "text[]",
        ),
        (
            column(ArrayType::BigInt, &|r| r.delay_us.unwrap_or(-1).into()),
            "bigint[]",
        ),
        (column(ArrayType::Int, &|r| r.refund.into()), "integer[]"),
        (
            column(ArrayType::String, &|r| {
                r.error.clone().unwrap_or_default().into()
            }),
            "text[]",
        ),
        (
            column(ArrayType::Int, &|r| r.expired_only.into()),
            "integer[]",
        ),
    ];
    for (i, (array, ty)) in arrays.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(array).push("::").push(ty);
    }
}

const V_COLUMNS: &str =
    "v_id, v_token, v_status, v_output, v_delay, v_refund, v_error, v_expired_only";

/// The rows of a batch as `v`: PostgreSQL's typed arrays expanded by `unnest`, the text
/// a `FROM` (or a CTE) takes.
#[cfg(feature = "postgres")]
fn unnest_rows(sql: &mut Sql, rows: &[Row]) {
    // Array elements cannot be NULL through the driver: '' and -1 stand for NULL.
    sql.push("SELECT v_id, v_token, v_status, NULLIF(v_output, '') AS v_output, NULLIF(v_delay, -1) AS v_delay, v_refund, NULLIF(v_error, '') AS v_error, v_expired_only FROM unnest(");
    bind_arrays(sql, rows);
    sql.push(&format!(") AS u({V_COLUMNS})"));
}

/// Applies `rows` where they still match their fence and returns the attempts that applied.
/// With `delete` (PostgreSQL and SQLite outside a transaction only when it is off), rows
/// that succeeded are deleted instead (see [`delete`]).
async fn update_returning<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    rows: &[Row],
    delete: bool,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    attempts_returned(conn, returning_statement(backend, tables, rows, delete)).await
}

/// The statement [`update_returning`] runs.
fn returning_statement(backend: Backend, tables: &Tables, rows: &[Row], delete: bool) -> Sql {
    let t = &tables.commands;
    let mut sql = Sql::new(backend);
    #[cfg(feature = "postgres")]
    let postgres = backend == Backend::Postgres;
    #[cfg(not(feature = "postgres"))]
    let postgres = false;
    if postgres && delete {
        #[cfg(feature = "postgres")]
        delete::postgres(&mut sql, tables, rows);
    } else if postgres {
        // One array per column: the statement text is the same for every batch size, so
        // the server keeps one prepared statement.
        sql.push("UPDATE ").push(t).push(" AS c SET ");
        set_list(&mut sql, "");
        sql.push(" FROM (");
        #[cfg(feature = "postgres")]
        unnest_rows(&mut sql, rows);
        sql.push(") AS v WHERE c.id = v.v_id");
        fence(&mut sql, "c");
        sql.push(" RETURNING c.id, c.lease_token");
    } else {
        sql.push(&format!("WITH v({V_COLUMNS}) AS (VALUES "));
        for (i, row) in rows.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            bind_row(&mut sql, row, false, None);
            sql.push(")");
        }
        sql.push(") UPDATE ").push(t).push(" SET ");
        set_list(&mut sql, "");
        // The `id IN` drives the plan from the batch into the primary key. Without it
        // SQLite 3.51 joins a batch of 1,000 by scanning the whole table against a Bloom
        // filter of the batch, whatever the statistics: a finish then costs time in
        // proportion to the rows the table keeps (13.5 ms in a table of 200,000 rows
        // against 4.5 ms with it; 5.0 against 3.6 ms at 50,000).
        sql.push(" FROM v WHERE ")
            .push(t)
            .push(".id IN (SELECT v_id FROM v) AND ")
            .push(t)
            .push(".id = v.v_id");
        fence(&mut sql, t);
        sql.push(" RETURNING id, lease_token");
    }
    sql
}

/// Runs `sql`, whose rows are `(id, lease_token)` pairs, and collects them.
async fn attempts_returned<C: ConnectionTrait>(
    conn: &C,
    sql: Sql,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let result = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    result
        .iter()
        .map(|r| Ok((uuid_col(r, 0, WHAT)?, uuid_col(r, 1, WHAT)?)))
        .collect()
}

async fn insert_errors<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    failures: &[(Uuid, &orch_core::Failure)],
) -> Result<(), StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO ")
        .push(&tables.errors)
        .push(" (command_id, attempt, kind, message, at) VALUES ");
    for (i, (id, failure)) in failures.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" })
            .bind(id_value(orch_core::CommandId::from_uuid(*id)))
            .push(", ")
            .bind(i64::from(failure.attempt))
            .push(", ")
            .bind(failure.kind.as_str())
            .push(", ")
            .bind(failure.message.clone())
            .push(", ")
            .now()
            .push(")");
    }
    conn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error("record attempt errors", e))?;
    Ok(())
}
