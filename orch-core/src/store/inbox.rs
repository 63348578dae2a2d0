//! [`InboxStore`]: the record of messages received, so each is processed once.
//!
//! One row per `(source, message_id)`, with the content hash first seen, a status, the
//! attempts, first and last seen times and the last error.

use super::StoreFuture;
use crate::inbox::{InboxClaim, InboxEntry};

/// The inbox table.
pub trait InboxStore<Tx: ?Sized>: Send + Sync {
    /// Inside the caller's transaction: records the message (first seen, or seen again)
    /// and, unless it is processed, dead or known with another hash, marks it processed
    /// and counts an attempt. The caller's writes and this mark commit together; a
    /// concurrent claim of the same message waits for this transaction, then finds it
    /// processed.
    fn claim_in<'a>(
        &'a self,
        tx: &'a Tx,
        source: &'a str,
        message_id: &'a str,
        content_hash: &'a str,
    ) -> StoreFuture<'a, InboxClaim>;

    /// Records a sighting (first seen, or last seen and the hash compared) and returns
    /// the entry as it stands.
    fn record<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
        content_hash: &'a str,
    ) -> StoreFuture<'a, InboxEntry>;

    /// Moves a known message to `status` (`processing` counts an attempt), with `error`
    /// kept as its last error when given; returns whether it was known and not already
    /// processed.
    fn set_status<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
        status: crate::inbox::InboxStatus,
        error: Option<&'a str>,
    ) -> StoreFuture<'a, bool>;

    /// Reads one entry.
    fn get<'a>(
        &'a self,
        source: &'a str,
        message_id: &'a str,
    ) -> StoreFuture<'a, Option<InboxEntry>>;

    /// Deletes processed entries processed more than `older_than` ago; returns how many.
    fn prune(&self, older_than: std::time::Duration) -> StoreFuture<'_, u64>;
}
