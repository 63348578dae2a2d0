//! The command face on sea-orm: [`CommandStore`] for [`SeaStore`], one file per transition.

pub(crate) mod cancel;
pub(crate) mod claim;
mod explain;
pub(crate) mod finish;
pub(crate) mod insert;
pub(crate) mod owed;
pub(crate) mod read;
pub(crate) mod renew;
pub(crate) mod stats;
pub(crate) mod unreadable;

use orch_core::store::{
    CancelOutcome, CancelParams, ClaimParams, ClaimedCommand, CommandRecord, CommandStore, Finish,
    InsertCommand, LeaseRenewal, ListFilter, OwedFollowUps, StoreFuture,
};
use orch_core::{CommandId, Pushed};
use sea_orm::{IsolationLevel, TransactionTrait};

use crate::conn::{AnyConnection, Dyn};
use crate::error::db_error;
use crate::store::SeaStore;

impl CommandStore<dyn AnyConnection> for SeaStore {
    fn insert<'a>(&'a self, commands: &'a [InsertCommand]) -> StoreFuture<'a, Vec<Pushed>> {
        let i = self.inner();
        Box::pin(async move {
            // Committed here: other processes are woken after the commit, by the notifier,
            // so no push's commit waits on `NOTIFY`'s lock (see `crate::notifier`). A single
            // push shares its statement with those made at the same time (see `together`).
            let inserted = match commands {
                [command] => vec![i.together.push(i, command.clone()).await?],
                _ => insert::write(i, commands).await?,
            };
            if self.notify() && commands.iter().any(|c| c.when == orch_core::When::Now) {
                // On the claims pool where there is one: its `synchronous_commit = off`
                // spares each notification a flush (a lost one costs a poll, nothing more).
                let conn = i.claims_pool().await.unwrap_or(&i.db);
                i.notifier.owe(conn);
            }
            Ok(inserted)
        })
    }

    fn insert_in<'a>(
        &'a self,
        tx: &'a dyn AnyConnection,
        commands: &'a [InsertCommand],
    ) -> StoreFuture<'a, Vec<Pushed>> {
        let i = self.inner();
        Box::pin(async move {
            insert::insert(
                &Dyn(tx),
                i.backend,
                &i.tables,
                self.notify(),
                i.limit.max_bytes,
                commands,
            )
            .await
        })
    }

    fn claim<'a>(&'a self, params: &'a ClaimParams) -> StoreFuture<'a, Vec<ClaimedCommand>> {
        let i = self.inner();
        Box::pin(claim::claim(i, params))
    }

    fn finish<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>> {
        self.finish_fenced(batch, finish::Fence::Lease)
    }

    fn renew_leases<'a>(&'a self, leases: &'a [LeaseRenewal]) -> StoreFuture<'a, Vec<bool>> {
        let i = self.inner();
        Box::pin(renew::renew(&i.db, i.backend, &i.tables, leases))
    }

    fn find_expired<'a>(
        &'a self,
        limit: u32,
        skip: &'a [CommandId],
    ) -> StoreFuture<'a, Vec<ClaimedCommand>> {
        let i = self.inner();
        Box::pin(async move {
            let found = read::expired(&i.db, i.backend, &i.tables, limit, skip).await?;
            // Fenced as the reaper's own rescue is: on the lease, and only while expired.
            unreadable::record_dead(i, &found.unreadable, finish::Fence::ExpiredLease).await;
            Ok(found.commands)
        })
    }

    fn rescue_expired<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>> {
        self.finish_fenced(batch, finish::Fence::ExpiredLease)
    }

    fn settle_live<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>> {
        self.finish_fenced(batch, finish::Fence::LiveLease)
    }

    fn cancel<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, CancelOutcome> {
        let i = self.inner();
        Box::pin(cancel::cancel(
            &i.db,
            i.backend,
            &i.tables,
            self.notify(),
            i.limit.max_bytes,
            params,
        ))
    }

    fn cancel_unstarted<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, bool> {
        let i = self.inner();
        Box::pin(cancel::cancel_unstarted(
            &i.db,
            i.backend,
            &i.tables,
            self.notify(),
            i.limit.max_bytes,
            params,
        ))
    }

    fn owed_follow_ups<'a>(
        &'a self,
        names: &'a [&'static str],
        limit: u32,
    ) -> StoreFuture<'a, Vec<OwedFollowUps>> {
        let i = self.inner();
        Box::pin(owed::list(&i.db, i.backend, &i.tables, names, limit))
    }

    fn pay_follow_ups<'a>(
        &'a self,
        id: CommandId,
        follow_ups: &'a [InsertCommand],
    ) -> StoreFuture<'a, bool> {
        let i = self.inner();
        Box::pin(owed::pay(
            &i.db,
            i.backend,
            &i.tables,
            self.notify(),
            i.limit.max_bytes,
            id,
            follow_ups,
        ))
    }

    fn list_unstarted(&self, limit: u32) -> StoreFuture<'_, Vec<CommandRecord>> {
        let i = self.inner();
        Box::pin(read::list_unstarted(&i.db, i.backend, &i.tables, limit))
    }

    fn queue_stats(&self) -> StoreFuture<'_, Vec<orch_core::health::QueueHealth>> {
        let i = self.inner();
        Box::pin(stats::queue_stats(&i.db, i.backend, &i.tables))
    }

    fn get(&self, id: CommandId) -> StoreFuture<'_, Option<CommandRecord>> {
        let i = self.inner();
        Box::pin(async move {
            // The row and its errors come from one snapshot, so a record never shows an
            // attempt's error without the attempt (or the other way round).
            let txn =
                i.db.begin_with_config(Some(IsolationLevel::RepeatableRead), None)
                    .await
                    .map_err(|e| db_error("read a command", e))?;
            let record = read::get(&txn, i.backend, &i.tables, id).await?;
            txn.commit()
                .await
                .map_err(|e| db_error("read a command", e))?;
            Ok(record)
        })
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> StoreFuture<'a, Vec<CommandRecord>> {
        let i = self.inner();
        Box::pin(read::list(&i.db, i.backend, &i.tables, filter))
    }
}

impl SeaStore {
    fn finish_fenced<'a>(
        &'a self,
        batch: &'a [Finish],
        fence: finish::Fence,
    ) -> StoreFuture<'a, Vec<bool>> {
        Box::pin(finish::finish(self.inner(), self.notify(), batch, fence))
    }
}
