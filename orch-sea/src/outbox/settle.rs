//! Settling claimed messages, each fenced on owner and unexpired claim: ack, abandon,
//! fail; and reaping claims that expired.

use orch_core::outbox::{MessageId, OwnerToken};
use orch_core::store::{MessageFailure, StoreError};
use sea_orm::ConnectionTrait;

use super::{fenced, message_id};
use crate::error::db_error;
use crate::sql::{Sql, begin_write, micros};
use crate::store::SeaStore;

/// Most ids per statement.
const CHUNK: usize = 500;

async fn update_held(
    store: &SeaStore,
    owner: OwnerToken,
    ids: &[MessageId],
    set: &str,
    what: &str,
) -> Result<u64, StoreError> {
    let i = store.inner();
    let mut total = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut sql = Sql::new(i.backend);
        sql.push("UPDATE ")
            .push(&i.tables.outbox)
            .push(" SET ")
            .push(set)
            .push(", owner = NULL, locked_until = NULL WHERE id IN ")
            .bind_list(chunk.iter().map(|id| message_id(*id)));
        fenced(&mut sql, owner);
        let done =
            i.db.execute_raw(sql.build())
                .await
                .map_err(|e| db_error(what, e))?;
        total += done.rows_affected();
    }
    Ok(total)
}

pub(super) async fn ack(
    store: &SeaStore,
    owner: OwnerToken,
    ids: &[MessageId],
) -> Result<u64, StoreError> {
    let set = format!(
        "status = 'delivered', blocks = 0, delivered_at = {}",
        store.inner().backend.now_us()
    );
    update_held(store, owner, ids, &set, "mark outbox messages delivered").await
}

pub(super) async fn abandon(
    store: &SeaStore,
    owner: OwnerToken,
    ids: &[MessageId],
) -> Result<u64, StoreError> {
    let set = format!(
        "status = 'pending', blocks = 0, attempts = attempts - 1, next_attempt_at = {}",
        store.inner().backend.now_us()
    );
    update_held(store, owner, ids, &set, "abandon outbox messages").await
}

pub(super) async fn fail(
    store: &SeaStore,
    owner: OwnerToken,
    failures: &[MessageFailure],
) -> Result<u64, StoreError> {
    const WHAT: &str = "record failed outbox deliveries";
    let i = store.inner();
    let txn = begin_write(&i.db, WHAT).await?;
    let mut total = 0;
    for failure in failures {
        let mut sql = Sql::new(i.backend);
        sql.push("UPDATE ")
            .push(&i.tables.outbox)
            .push(" SET status = ");
        match failure.retry_after {
            Some(delay) => {
                // Pending but blocking: later messages of its key wait out its backoff.
                sql.push("'pending', blocks = 1, next_attempt_at = ")
                    .now()
                    .push(" + ")
                    .bind(micros(delay));
            }
            None => {
                sql.push("'dead', blocks = 1");
            }
        }
        sql.push(", last_error = ")
            .bind(failure.error.clone())
            .push(", owner = NULL, locked_until = NULL WHERE id = ")
            .bind(message_id(failure.id));
        fenced(&mut sql, owner);
        let done = txn
            .execute_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
        total += done.rows_affected();
    }
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(total)
}

pub(super) async fn reap(store: &SeaStore) -> Result<u64, StoreError> {
    const WHAT: &str = "reap expired outbox claims";
    let i = store.inner();
    let mut sql = Sql::new(i.backend);
    sql.push("UPDATE ")
        .push(&i.tables.outbox)
        .push(
            " SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, \
             blocks = CASE WHEN attempts >= max_attempts THEN 1 ELSE 0 END, \
             last_error = 'the claim expired before the message was settled (its owner died or stalled)', \
             owner = NULL, locked_until = NULL, next_attempt_at = ",
        )
        .now()
        .push(" WHERE status = 'processing' AND locked_until <= ")
        .now();
    let done =
        i.db.execute_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
    Ok(done.rows_affected())
}
