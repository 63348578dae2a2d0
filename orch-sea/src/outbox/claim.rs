//! Claiming: due pending messages in `seq` order, each only when no earlier message of
//! its key blocks it (`blocks = 1`: claimed, dead, or waiting out a backoff). A claim can
//! take several messages of one key (a chain, in order), which the claimer delivers one
//! after another.
//!
//! Claims run one at a time: on PostgreSQL and MySQL/MariaDB each takes the row
//! `orch.outbox.claim` of the locks table `FOR UPDATE` first (SQLite runs one writer at
//! a time anyway). Without that, a second claimer could take message 3 of a key while the
//! first one's uncommitted claim of messages 1 and 2 still looks pending to it.

use std::time::Duration;

use orch_core::outbox::{OutboxMessage, OwnerToken};
use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction, IsolationLevel, TransactionTrait};

use super::read::{COLUMNS, message};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, micros};
use crate::store::SeaStore;

const WHAT: &str = "claim outbox messages";

/// `SELECT seq FROM outbox o WHERE …claimable… ORDER BY seq LIMIT n`.
fn claimable(sql: &mut Sql, table: &str, batch: u32) {
    sql.push("SELECT o.seq FROM ")
        .push(table)
        .push(" o WHERE o.status = 'pending' AND o.next_attempt_at <= ")
        .now()
        .push(" AND NOT EXISTS (SELECT 1 FROM ")
        .push(table)
        .push(
            " p WHERE p.msg_key = o.msg_key AND p.blocks = 1 AND p.seq < o.seq) \
             ORDER BY o.seq LIMIT ",
        )
        .bind(i64::from(batch));
}

/// `SET …` of a claim.
fn stamp(sql: &mut Sql, owner: OwnerToken, lease: Duration) {
    sql.push(" SET status = 'processing', blocks = 1, attempts = attempts + 1, owner = ")
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
    let mut claimed = match b {
        Backend::Sqlite => {
            // One statement: atomic, and SQLite runs one writer at a time.
            let mut sql = Sql::new(b);
            sql.push("UPDATE ").push(t);
            stamp(&mut sql, owner, lease);
            sql.push(" WHERE status = 'pending' AND seq IN (");
            claimable(&mut sql, t, batch);
            sql.push(") RETURNING ").push(COLUMNS);
            let rows =
                i.db.query_all_raw(sql.build())
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            rows.iter().map(message).collect::<Result<Vec<_>, _>>()?
        }
        Backend::Postgres | Backend::MySql => {
            let txn =
                i.db.begin_with_config(Some(IsolationLevel::ReadCommitted), None)
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            if b == Backend::Postgres {
                // A claim lost in a crash only leaves its messages pending (they are
                // published again: at least once), so it need not wait for a disk flush;
                // the ack that follows is durable and flushes the claim with it.
                txn.execute_unprepared("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            }
            crate::turn::take(&txn, b, &i.tables, crate::turn::OUTBOX_CLAIMS, WHAT).await?;
            let claimed = if b == Backend::Postgres {
                claim_postgres(&txn, store, owner, lease, batch).await?
            } else {
                claim_mysql(&txn, store, owner, lease, batch).await?
            };
            txn.commit().await.map_err(|e| db_error(WHAT, e))?;
            claimed
        }
    };
    claimed.sort_by_key(|m| m.seq);
    Ok(claimed)
}

async fn claim_postgres(
    txn: &DatabaseTransaction,
    store: &SeaStore,
    owner: OwnerToken,
    lease: Duration,
    batch: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let t = &i.tables.outbox;
    let mut sql = Sql::new(i.backend);
    // Materialized, so the subquery runs once (inside `IN (…)` the planner may run it
    // again per row).
    sql.push("WITH picked AS MATERIALIZED (");
    claimable(&mut sql, t, batch);
    sql.push(") UPDATE ").push(t);
    stamp(&mut sql, owner, lease);
    sql.push(" WHERE status = 'pending' AND seq IN (SELECT seq FROM picked) RETURNING ")
        .push(COLUMNS);
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    rows.iter().map(message).collect()
}

/// MySQL/MariaDB: no `UPDATE … RETURNING` and no subquery on the updated table, so the
/// rows are selected, stamped and read back in the claim's transaction.
async fn claim_mysql(
    txn: &DatabaseTransaction,
    store: &SeaStore,
    owner: OwnerToken,
    lease: Duration,
    batch: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let i = store.inner();
    let (b, t) = (i.backend, &i.tables.outbox);
    let mut sql = Sql::new(b);
    claimable(&mut sql, t, batch);
    let rows = txn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    if rows.is_empty() {
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
    rows.iter().map(message).collect()
}
