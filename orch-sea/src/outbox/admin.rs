//! Operator actions: retry a dead message, discard one, prune delivered ones.

use std::time::Duration;

use orch_core::outbox::MessageId;
use orch_core::store::StoreError;
use sea_orm::ConnectionTrait;

use super::message_id;
use crate::error::db_error;
use crate::sql::{Sql, micros};
use crate::store::SeaStore;

pub(super) async fn retry(store: &SeaStore, id: MessageId) -> Result<bool, StoreError> {
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("UPDATE ")
        .push(&i.tables.outbox)
        .push(" SET status = 'pending', blocks = 0, attempts = 0, next_attempt_at = ")
        .now()
        .push(" WHERE id = ")
        .bind(message_id(id))
        .push(" AND status = 'dead'");
    let done =
        i.db.execute_raw(sql.build())
            .await
            .map_err(|e| db_error("retry an outbox message", e))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn discard(store: &SeaStore, id: MessageId) -> Result<bool, StoreError> {
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("DELETE FROM ")
        .push(&i.tables.outbox)
        .push(" WHERE id = ")
        .bind(message_id(id))
        .push(" AND status IN ('pending', 'dead')");
    let done =
        i.db.execute_raw(sql.build())
            .await
            .map_err(|e| db_error("discard an outbox message", e))?;
    Ok(done.rows_affected() == 1)
}

/// Most rows deleted per statement, so pruning a large backlog never holds long locks.
const PRUNE_CHUNK: i64 = 5_000;

pub(super) async fn prune(store: &SeaStore, older_than: Duration) -> Result<u64, StoreError> {
    const WHAT: &str = "prune delivered outbox messages";
    let i = store.inner();
    let mut total = 0;
    loop {
        // Selected first: MySQL cannot delete from a table its subquery reads.
        let mut sql = Sql::new(i.backend);
        sql.push("SELECT seq FROM ")
            .push(&i.tables.outbox)
            .push(" WHERE status = 'delivered' AND delivered_at < ")
            .now()
            .push(" - ")
            .bind(micros(older_than))
            .push(" LIMIT ")
            .bind(PRUNE_CHUNK);
        let rows =
            i.db.query_all_raw(sql.build())
                .await
                .map_err(|e| db_error(WHAT, e))?;
        if rows.is_empty() {
            return Ok(total);
        }
        let seqs = rows
            .iter()
            .map(|row| crate::sql::col::<i64>(row, 0, WHAT))
            .collect::<Result<Vec<_>, _>>()?;
        for chunk in seqs.chunks(1000) {
            let mut sql = Sql::new(i.backend);
            sql.push("DELETE FROM ")
                .push(&i.tables.outbox)
                .push(" WHERE status = 'delivered' AND seq IN ")
                .bind_list(chunk.iter().copied());
            let done =
                i.db.execute_raw(sql.build())
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            total += done.rows_affected();
        }
        if i64::try_from(seqs.len()).unwrap_or(i64::MAX) < PRUNE_CHUNK {
            return Ok(total);
        }
    }
}
