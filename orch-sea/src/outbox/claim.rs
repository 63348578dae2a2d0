//! Claiming: due pending messages, in `seq` order, each only when no earlier message of
//! its key is still undelivered (pending, processing or dead), so one message per key is
//! in flight at a time. Rows another claimer holds are skipped, never waited for.

use std::time::Duration;

use orch_core::outbox::{OutboxMessage, OwnerToken};
use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, IsolationLevel, TransactionTrait};

use super::read::{COLUMNS, message};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, micros};
use crate::store::SeaStore;

const WHAT: &str = "claim outbox messages";

/// `SELECT seq FROM outbox o WHERE …eligible… ORDER BY seq LIMIT n`.
fn eligible(sql: &mut Sql, table: &str, batch: u32) {
    sql.push("SELECT o.seq FROM ")
        .push(table)
        .push(" o WHERE o.status = 'pending' AND o.next_attempt_at <= ")
        .now()
        .push(" AND NOT EXISTS (SELECT 1 FROM ")
        .push(table)
        .push(
            " p WHERE p.msg_key = o.msg_key AND p.status IN ('pending', 'processing', 'dead') \
             AND p.seq < o.seq) ORDER BY o.seq LIMIT ",
        )
        .bind(i64::from(batch));
}

/// `SET …` of a claim.
fn stamp(sql: &mut Sql, owner: OwnerToken, lease: Duration) {
    sql.push(" SET status = 'processing', attempts = attempts + 1, owner = ")
        .bind(owner.as_uuid())
        .push(", locked_until = ")
        .now()
        .push(" + ")
        .bind(micros(lease));
}

pub(super) async fn claim(
    store: &SeaStore,
    owner: OwnerToken,
    lease: Duration,
    batch: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let (b, t) = (i.backend, &i.tables.outbox);
    let mut claimed = if b == Backend::MySql {
        claim_mysql(store, owner, lease, batch).await?
    } else {
        let mut sql = Sql::new(b);
        if b == Backend::Postgres {
            // Materialized, so the locking subquery runs once (inside `IN (…)` the planner
            // may run it again per row, taking more than `batch`).
            sql.push("WITH picked AS MATERIALIZED (");
            eligible(&mut sql, t, batch);
            sql.push(" FOR UPDATE SKIP LOCKED) UPDATE ").push(t);
            stamp(&mut sql, owner, lease);
            sql.push(" WHERE status = 'pending' AND seq IN (SELECT seq FROM picked)");
        } else {
            sql.push("UPDATE ").push(t);
            stamp(&mut sql, owner, lease);
            sql.push(" WHERE status = 'pending' AND seq IN (");
            eligible(&mut sql, t, batch);
            sql.push(")");
        }
        sql.push(" RETURNING ").push(COLUMNS);
        let rows =
            i.db.query_all_raw(sql.build())
                .await
                .map_err(|e| db_error(WHAT, e))?;
        rows.iter().map(message).collect::<Result<Vec<_>, _>>()?
    };
    claimed.sort_by_key(|m| m.seq);
    Ok(claimed)
}

/// MySQL/MariaDB: no `UPDATE … RETURNING` and no subquery on the updated table, so the
/// rows are locked, stamped and read in one short read-committed transaction (no gap
/// locks to block concurrent enqueues).
async fn claim_mysql(
    store: &SeaStore,
    owner: OwnerToken,
    lease: Duration,
    batch: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let (b, t) = (i.backend, &i.tables.outbox);
    let txn =
        i.db.begin_with_config(Some(IsolationLevel::ReadCommitted), None)
            .await
            .map_err(|e| db_error(WHAT, e))?;
    let mut sql = Sql::new(b);
    eligible(&mut sql, t, batch);
    sql.push(" FOR UPDATE SKIP LOCKED");
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    if rows.is_empty() {
        txn.commit().await.map_err(|e| db_error(WHAT, e))?;
        return Ok(Vec::new());
    }
    let seqs = rows
        .iter()
        .map(|row| col::<i64>(row, 0, WHAT))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sql = Sql::new(b);
    sql.push("UPDATE ").push(t);
    stamp(&mut sql, owner, lease);
    sql.push(" WHERE status = 'pending' AND seq IN ")
        .bind_list(seqs.iter().copied());
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut sql = Sql::new(b);
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM ")
        .push(t)
        .push(" WHERE status = 'processing' AND owner = ")
        .bind(owner.as_uuid())
        .push(" AND seq IN ")
        .bind_list(seqs.iter().copied());
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    rows.iter().map(message).collect()
}
