//! The outbox face on sea-orm: [`OutboxStore`] for [`SeaStore`], on `{prefix}outbox`.
//! One file per concern: `enqueue.rs`, `claim.rs` (per-key ordered claims), `settle.rs`
//! (ack, abandon, fail, reap), `read.rs` (rows, lists, counts), `admin.rs` (retry,
//! discard, prune).

mod admin;
mod claim;
mod enqueue;
mod read;
mod settle;

use std::time::Duration;

use orch_core::outbox::{MessageFilter, MessageId, OutboxMessage, OutboxStats, OwnerToken};
use orch_core::store::{EnqueueOutcome, MessageFailure, NewMessage, OutboxStore, StoreFuture};

use crate::conn::{AnyConnection, Dyn};
use crate::error::db_error;
use crate::store::SeaStore;

impl OutboxStore<dyn AnyConnection> for SeaStore {
    fn enqueue_in<'a>(
        &'a self,
        tx: &'a dyn AnyConnection,
        messages: &'a [NewMessage],
    ) -> StoreFuture<'a, Vec<EnqueueOutcome>> {
        let i = self.inner();
        Box::pin(async move {
            enqueue::enqueue(&Dyn(tx), i.backend, &i.tables, i.limit.max_bytes, messages).await
        })
    }

    fn enqueue<'a>(&'a self, messages: &'a [NewMessage]) -> StoreFuture<'a, Vec<EnqueueOutcome>> {
        let i = self.inner();
        Box::pin(async move {
            const WHAT: &str = "enqueue outbox messages";
            let txn = crate::sql::begin_write(&i.db, WHAT).await?;
            let outcomes =
                enqueue::enqueue(&txn, i.backend, &i.tables, i.limit.max_bytes, messages).await?;
            if outcomes.contains(&EnqueueOutcome::Conflict) {
                txn.rollback().await.map_err(|e| db_error(WHAT, e))?;
            } else {
                txn.commit().await.map_err(|e| db_error(WHAT, e))?;
            }
            Ok(outcomes)
        })
    }

    fn claim(
        &self,
        owner: OwnerToken,
        lease: Duration,
        batch: u32,
    ) -> StoreFuture<'_, Vec<OutboxMessage>> {
        Box::pin(claim::claim(self, owner, lease, batch))
    }

    fn ack<'a>(&'a self, owner: OwnerToken, ids: &'a [MessageId]) -> StoreFuture<'a, u64> {
        Box::pin(settle::ack(self, owner, ids))
    }

    fn abandon<'a>(&'a self, owner: OwnerToken, ids: &'a [MessageId]) -> StoreFuture<'a, u64> {
        Box::pin(settle::abandon(self, owner, ids))
    }

    fn fail<'a>(
        &'a self,
        owner: OwnerToken,
        failures: &'a [MessageFailure],
    ) -> StoreFuture<'a, u64> {
        Box::pin(settle::fail(self, owner, failures))
    }

    fn reap_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(settle::reap(self))
    }

    fn get_many<'a>(&'a self, ids: &'a [MessageId]) -> StoreFuture<'a, Vec<OutboxMessage>> {
        Box::pin(read::get_many(self, ids))
    }

    fn list<'a>(&'a self, filter: &'a MessageFilter) -> StoreFuture<'a, Vec<OutboxMessage>> {
        Box::pin(read::list(self, filter))
    }

    fn retry(&self, id: MessageId) -> StoreFuture<'_, bool> {
        Box::pin(admin::retry(self, id))
    }

    fn discard(&self, id: MessageId) -> StoreFuture<'_, bool> {
        Box::pin(admin::discard(self, id))
    }

    fn prune(&self, older_than: Duration) -> StoreFuture<'_, u64> {
        Box::pin(admin::prune(self, older_than))
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        Box::pin(read::stats(self))
    }
}

/// The fence every settle checks: the message is claimed by `owner` and its claim has
/// not expired by the database's clock. Settles find their messages by id; the status
/// check serves no index (see [`crate::sql::Sql::status_is`]).
fn fenced(sql: &mut crate::sql::Sql, owner: OwnerToken) {
    sql.push(" AND ")
        .status_is("status", "processing")
        .push(" AND owner = ")
        .bind(owner.as_uuid())
        .push(" AND locked_until > ")
        .now();
}

fn message_id(id: MessageId) -> sea_orm::Value {
    sea_orm::Value::from(id.as_uuid())
}
