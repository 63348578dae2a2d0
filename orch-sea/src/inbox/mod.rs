//! The inbox face on sea-orm: [`InboxStore`] for [`SeaStore`], on `{prefix}inbox` (one
//! row per source and message id). `claim.rs` claims inside the caller's transaction;
//! `entries.rs` has the step-by-step calls.

mod claim;
mod entries;

use std::time::Duration;

use orch_core::inbox::{InboxClaim, InboxEntry, InboxStatus};
use orch_core::store::{InboxStore, StoreFuture};

use crate::conn::{AnyConnection, Dyn};
use crate::store::SeaStore;

impl InboxStore<dyn AnyConnection> for SeaStore {
    fn claim_in<'a>(
        &'a self,
        tx: &'a dyn AnyConnection,
        source: &'a str,
        message_id: &'a str,
        content_hash: &'a str,
    ) -> StoreFuture<'a, InboxClaim> {
        let i = self.inner();
        Box::pin(async move {
            claim::claim(
                &Dyn(tx),
                i.backend,
                &i.tables,
                source,
                message_id,
                content_hash,
            )
            .await
        })
    }

    fn record<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
        content_hash: &'a str,
    ) -> StoreFuture<'a, InboxEntry> {
        Box::pin(entries::record(self, source, message_id, content_hash))
    }

    fn set_status<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
        status: InboxStatus,
        error: Option<&'a str>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(entries::set_status(self, source, message_id, status, error))
    }

    fn get<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
    ) -> StoreFuture<'a, Option<InboxEntry>> {
        let i = self.inner();
        Box::pin(async move {
            entries::read(&i.db, i.backend, &i.tables, source, message_id, false).await
        })
    }

    fn prune(&self, older_than: Duration) -> StoreFuture<'_, u64> {
        Box::pin(entries::prune(self, older_than))
    }
}
