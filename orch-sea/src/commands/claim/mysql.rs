//! The MySQL/MariaDB claim, in the `READ COMMITTED` transaction `begin` opens (so no read
//! takes gap locks: a claim never blocks a push). Neither has `UPDATE … RETURNING`, so a
//! claim is a few short statements over at most [`WINDOWS`] windows of candidates:
//!
//! 1. The first window is one statement: a plain read (a derived table) of the ids of the
//!    oldest due rows across the served pairs, up to the number wanted (each pair's arm
//!    bounded by `LIMIT`, as MySQL materializes every arm of a `UNION`), walking only those
//!    pairs' ranges of the claim index `(pending_name, target, run_at)` (schema version 9),
//!    joined by primary key to the rows it locks (`FOR UPDATE SKIP LOCKED`): the rows still
//!    pending and free, and only those. The derived table's own read locks nothing.
//! 2. When that came up short of the number wanted (fewer rows were due, or another claim
//!    held some), later windows read candidates after the last row taken, without locks,
//!    then lock those still free by primary key, two statements each. A window stops the
//!    claim when it read fewer candidates than wanted, or took all it read.
//! 3. A fenced `UPDATE` by primary key stamps each window's rows.
//!
//! Why not one locking walk of the claim index in due order: under `READ COMMITTED` a
//! locking read of a secondary index visits the clustered record of every entry it passes,
//! including the delete-marked entries of rows claimed moments ago that purge has not
//! removed yet; measured on MariaDB 10.11 during a drain of 50,000 rows, such a walk
//! touched ~40,000 pages per claim of 500 against ~14,000 for a plain read plus lookups by
//! primary key (the derived table's read counts as a plain one: 15,400 pages per claim
//! of 500 against 23,300 for the locking walk in a drain without other load), and took
//! 2.5× as long. A walk that ran to the end of its range would also lock the first record
//! past it (another pair's row) until commit, even under `READ COMMITTED`.

use std::collections::HashMap;

use orch_core::store::{ClaimParams, StoreError};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{WHAT, due, lease_expiry, read_all_claimed};
use crate::backend::Backend;
use crate::commands::unreadable::{Decoded, Unreadable};
use crate::error::db_error;
use crate::sql::{Sql, col, id_value, uuid_col};
use crate::tables::Tables;

const BACKEND: Backend = Backend::MySql;

/// The claim index's column (schema version 9): a row's name while it is pending, NULL
/// otherwise, so no `status` test is needed.
const PENDING_NAME: &str = "pending_name";

/// Most windows of candidates one claim reads before it returns what it holds.
const WINDOWS: usize = 4;

/// Where a window of candidates starts: after this `(run_at, id)` in due order.
type After = Option<(i64, Uuid)>;

pub(super) async fn claim<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Decoded, StoreError> {
    // The hint keeps every arm on the claim index whatever the statistics say (the due
    // index `(status, run_at)` also gives `run_at` order, but walks every name's rows).
    let from = format!(
        "{} FORCE INDEX ({})",
        tables.commands,
        tables.index(BACKEND, "commands_pending")
    );
    let pairs = due::pairs(params);
    let mut claimed = Decoded::default();
    let mut after: After = None;
    for window in 0..WINDOWS {
        let held = claimed.commands.len() + claimed.unreadable.len();
        let wanted = params
            .limit
            .saturating_sub(u32::try_from(held).unwrap_or(u32::MAX));
        if wanted == 0 {
            break;
        }
        if window == 0 {
            (claimed, after) = take_due(txn, tables, &from, &pairs, params, wanted).await?;
            continue;
        }
        let candidates = candidates(txn, &from, &pairs, wanted, after).await?;
        let Some(&(last_id, last_run_at)) = candidates.last() else {
            break;
        };
        let taken = take(txn, tables, params, &candidates).await?;
        let short = taken.commands.len() + taken.unreadable.len() < candidates.len();
        claimed.commands.extend(taken.commands);
        claimed.unreadable.extend(taken.unreadable);
        // A window that read fewer than wanted saw every due row; one whose rows were all
        // taken leaves nothing to look further for.
        if !short || candidates.len() < wanted as usize {
            break;
        }
        after = Some((last_run_at, last_id));
    }
    Ok(claimed)
}

/// The first window in one locking statement: the `limit` oldest due rows across `pairs`
/// (a plain read), joined to the rows still pending and free, which it locks and stamps.
/// Returns them in due order, and where the next window starts (after the last row taken).
async fn take_due<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    from: &str,
    pairs: &[(&str, &str)],
    params: &ClaimParams,
    limit: u32,
) -> Result<(Decoded, After), StoreError> {
    let mut sql = Sql::new(BACKEND);
    sql.push("SELECT c.id, c.name, c.input, c.attempts, c.max_attempts, c.timeout_ms, ")
        .push(BACKEND.now_us())
        .push(" AS now_us, c.run_at FROM (");
    candidates_sql(&mut sql, from, pairs, limit, None);
    // `STRAIGHT_JOIN` keeps the candidates first: a plan that began with the table would
    // walk (and lock) every pending row of the due index.
    sql.push(") d STRAIGHT_JOIN ")
        .push(&tables.commands)
        .push(" c ON c.id = d.id WHERE c.status = 'pending' AND c.run_at <= ")
        .now()
        .push(" FOR UPDATE SKIP LOCKED");
    lock_and_stamp(txn, tables, params, sql).await
}

/// The ids and due times of the `limit` oldest due rows across `pairs` after `after`, in
/// due order, read without locks.
async fn candidates<C: ConnectionTrait>(
    txn: &C,
    from: &str,
    pairs: &[(&str, &str)],
    limit: u32,
    after: After,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    let mut sql = Sql::new(BACKEND);
    candidates_sql(&mut sql, from, pairs, limit, after);
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    rows.iter()
        .map(|row| Ok((uuid_col(row, 0, WHAT)?, col::<i64>(row, 1, WHAT)?)))
        .collect()
}

/// `SELECT id, run_at …`: the candidates' read (see [`candidates`]).
fn candidates_sql(sql: &mut Sql, from: &str, pairs: &[(&str, &str)], limit: u32, after: After) {
    let window = |sql: &mut Sql| {
        if let Some((run_at, id)) = after {
            sql.push(" AND run_at >= ")
                .bind(run_at)
                .push(" AND (run_at > ")
                .bind(run_at)
                .push(" OR id > ")
                .bind(id)
                .push(")");
        }
    };
    if let [pair] = pairs {
        due::arm(sql, "id, run_at", from, PENDING_NAME, *pair);
        window(sql);
    } else {
        sql.push("SELECT id, run_at FROM (");
        due::union_all(sql, pairs, |sql, pair| {
            sql.push("(");
            due::arm(sql, "id, run_at", from, PENDING_NAME, pair);
            window(sql);
            sql.push(" ORDER BY run_at, id LIMIT ")
                .bind(i64::from(limit))
                .push(")");
        });
        sql.push(") u");
    }
    sql.push(" ORDER BY run_at, id LIMIT ")
        .bind(i64::from(limit));
}

/// Locks the `candidates` still pending and free by primary key and marks them running
/// under this claim's lease; returns them in due order.
async fn take<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    params: &ClaimParams,
    candidates: &[(Uuid, i64)],
) -> Result<Decoded, StoreError> {
    let mut sql = Sql::new(BACKEND);
    sql.push("SELECT id, name, input, attempts, max_attempts, timeout_ms, ")
        .push(BACKEND.now_us())
        .push(" AS now_us, run_at FROM ")
        .push(&tables.commands)
        .push(" WHERE id IN ")
        .bind_list(candidates.iter().map(|&(id, _)| id))
        .push(" AND status = 'pending' AND run_at <= ")
        .now()
        .push(" FOR UPDATE SKIP LOCKED");
    Ok(lock_and_stamp(txn, tables, params, sql).await?.0)
}

/// Runs `locking`, a `SELECT id, name, input, attempts, max_attempts, timeout_ms, now_us,
/// run_at … FOR UPDATE SKIP LOCKED`, and stamps the rows it locked (see [`stamp`]). Returns
/// them in due order, with where a next window starts (after the last of them).
async fn lock_and_stamp<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    params: &ClaimParams,
    locking: Sql,
) -> Result<(Decoded, After), StoreError> {
    let rows = txn
        .query_all_raw(locking.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let Some(first) = rows.first() else {
        return Ok((Decoded::default(), None));
    };
    let now: i64 = col(first, 6, WHAT)?;
    // Due order is sorted here rather than by the server, whose time is the scarcer.
    let mut run_at: HashMap<Uuid, i64> = HashMap::with_capacity(rows.len());
    for row in &rows {
        run_at.insert(uuid_col(row, 0, WHAT)?, col::<i64>(row, 7, WHAT)?);
    }
    let after = run_at.iter().map(|(&id, &at)| (at, id)).max();
    let mut claimed = read_all_claimed(&rows, params.token, 1);
    claimed.commands.sort_by_key(|c| {
        let id = c.id.as_uuid();
        (run_at.get(&id).copied(), id)
    });
    stamp(txn, tables, params, &claimed, now).await?;
    Ok((claimed, after))
}

/// Marks the `claimed` rows (held under lock) running under this claim's lease. Rows that
/// cannot be decoded are taken too, so the claim can record them dead, fenced on that
/// lease, once it commits.
async fn stamp<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    params: &ClaimParams,
    claimed: &Decoded,
    now: i64,
) -> Result<(), StoreError> {
    let ids: Vec<_> = claimed
        .commands
        .iter()
        .map(|c| c.id)
        .chain(claimed.unreadable.iter().map(Unreadable::id))
        .map(id_value)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(BACKEND);
    sql.push("UPDATE ")
        .push(&tables.commands)
        .push(" SET status = 'running', attempts = attempts + 1, started_at = ")
        .bind(now)
        .push(", lease_owner = ")
        .bind(params.worker.as_uuid())
        .push(", lease_token = ")
        .bind(params.token.as_uuid())
        .push(", lease_expires_at = ");
    lease_expiry(&mut sql, BACKEND, params, Some(now));
    sql.push(" WHERE status = 'pending' AND id IN ")
        .bind_list(ids);
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(())
}
