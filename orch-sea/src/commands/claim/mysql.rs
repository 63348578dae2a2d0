//! The MySQL/MariaDB claim, in the `READ COMMITTED` transaction `begin` opens (so locking
//! reads take no gap locks: a claim never blocks a push). Neither has `UPDATE …
//! RETURNING`, and neither can merge index ranges in order under a locking read, so a claim
//! runs three short statements:
//!
//! 1. A plain read of the `limit` oldest due rows across the served pairs (each pair's arm
//!    bounded by `LIMIT`, as MySQL materializes every arm of a `UNION`), only to learn how
//!    many each pair holds: its share. Nothing is locked.
//! 2. The locking read: per pair with a share, `SELECT … ORDER BY run_at, id LIMIT share
//!    FOR UPDATE SKIP LOCKED` on that pair's range of the claim index. It walks the range in
//!    order and stops on its share's last row, so it locks exactly the rows it returns. (A
//!    walk that ran to the end of its range would also lock the first record past it,
//!    another pair's row, until commit: measured on MariaDB 10.11 even under `READ
//!    COMMITTED`. That is why the share is read first, even for one pair. Only when rows
//!    of the share were taken meanwhile by another claim does the walk go on, skip them,
//!    and may reach that record.)
//! 3. A fenced `UPDATE` of the rows taken, by primary key.

use std::collections::HashMap;

use orch_core::store::{ClaimParams, StoreError};
use sea_orm::ConnectionTrait;

use super::{WHAT, due, lease_expiry, read_all_claimed};
use crate::backend::Backend;
use crate::commands::unreadable::{Decoded, Unreadable};
use crate::error::db_error;
use crate::sql::{Sql, col, id_value};
use crate::tables::Tables;

const BACKEND: Backend = Backend::MySql;

pub(super) async fn claim<C: ConnectionTrait>(
    txn: &C,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<Decoded, StoreError> {
    let t = &tables.commands;
    // The hint keeps every arm on the claim index whatever the statistics say (the due
    // index `(status, run_at)` also gives `run_at` order, but walks every name's rows).
    let from = format!(
        "{t} FORCE INDEX ({})",
        tables.index(BACKEND, "commands_claim")
    );
    let pairs = due::pairs(params);
    let shares = shares(txn, &from, &pairs, params.limit).await?;
    if shares.is_empty() {
        return Ok(Decoded::default());
    }
    let mut sql = Sql::new(BACKEND);
    let columns = format!(
        "id, name, input, attempts, max_attempts, timeout_ms, {} AS now_us",
        BACKEND.now_us()
    );
    let single = shares.len() == 1;
    due::union_all(&mut sql, &shares, |sql, (pair, share)| {
        if !single {
            sql.push("(");
        }
        due::arm(sql, &columns, &from, pair);
        sql.push(" ORDER BY run_at, id LIMIT ")
            .bind(i64::from(share))
            .push(" FOR UPDATE SKIP LOCKED");
        if !single {
            sql.push(")");
        }
    });
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let Some(first) = rows.first() else {
        return Ok(Decoded::default());
    };
    let now: i64 = col(first, 6, WHAT)?;
    let claimed = read_all_claimed(&rows, params.token, 1);
    // Rows that cannot be decoded are taken too (running under this claim's lease), so the
    // claim can record them dead, fenced on that lease, once it commits.
    let ids: Vec<_> = claimed
        .commands
        .iter()
        .map(|c| c.id)
        .chain(claimed.unreadable.iter().map(Unreadable::id))
        .map(id_value)
        .collect();
    if ids.is_empty() {
        return Ok(claimed);
    }
    let mut sql = Sql::new(BACKEND);
    sql.push("UPDATE ")
        .push(t)
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
    Ok(claimed)
}

/// How many of the `limit` oldest due rows across `pairs` each pair holds (pairs with none
/// left out), read without locks.
async fn shares<'p, C: ConnectionTrait>(
    txn: &C,
    from: &str,
    pairs: &[(&'p str, &'p str)],
    limit: u32,
) -> Result<Vec<((&'p str, &'p str), u32)>, StoreError> {
    let mut sql = Sql::new(BACKEND);
    sql.push("SELECT name, target, COUNT(*) FROM (");
    if let [pair] = pairs {
        due::arm(&mut sql, "name, target", from, *pair);
    } else {
        due::union_all(&mut sql, pairs, |sql, pair| {
            sql.push("(");
            due::arm(sql, "name, target, run_at, id", from, pair);
            sql.push(" ORDER BY run_at, id LIMIT ")
                .bind(i64::from(limit))
                .push(")");
        });
    }
    sql.push(" ORDER BY run_at, id LIMIT ")
        .bind(i64::from(limit))
        .push(") d GROUP BY name, target");
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut counts: HashMap<(String, String), u32> = HashMap::new();
    for row in &rows {
        let n: i64 = col(row, 2, WHAT)?;
        counts.insert(
            (col(row, 0, WHAT)?, col(row, 1, WHAT)?),
            u32::try_from(n).unwrap_or(limit),
        );
    }
    Ok(pairs
        .iter()
        .filter_map(|&(name, target)| {
            counts
                .get(&(name.to_owned(), target.to_owned()))
                .map(|&n| ((name, target), n))
        })
        .collect())
}
