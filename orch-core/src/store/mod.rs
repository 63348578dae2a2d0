//! The storage seam: what a backend implements so the engine and every face can run on it.
//!
//! **This is an internal seam until 1.0: its shape may change in any release. Do not
//! implement it outside orch.** `orch-sea` implements it on sea-orm for SQLite, PostgreSQL
//! and MySQL/MariaDB.
//!
//! # Shape
//! [`Store`] is the root: the backend's name, its clock, its wake-up listener, and one
//! accessor per face, each returning that face's own object-safe trait:
//! [`Store::commands`] ([`CommandStore`]: the command life cycle), [`Store::locks`]
//! ([`LockStore`]: named locks with fencing tokens), [`Store::cron`] ([`CronStore`]:
//! cron jobs and their runs), [`Store::outbox`] ([`OutboxStore`]: messages to deliver) and
//! [`Store::inbox`] ([`InboxStore`]: messages received). A new face adds one trait in a file of
//! its own here and one accessor on [`Store`].
//!
//! # Transactions
//! [`Store::Tx`] is the type of the caller's own connection or transaction that the
//! `*_in` methods take (for `orch-sea`, any sea-orm connection or transaction), so every
//! transactional form is written once, in orch-core, whatever the backend. What a `*_in`
//! method writes exists exactly when the caller's transaction commits.
//!
//! # The lease protocol
//! A claim moves due rows from `pending` to `running`, increments `attempts`, and stamps
//! them with the claiming worker, a fresh [`LeaseToken`](crate::LeaseToken) and a lease
//! expiry of `min(timeout, lease_ttl) + lease_buffer` from the database's clock. Every later
//! transition of that attempt is a compare-and-set on `(id, status = running, lease_token)`:
//! a worker whose lease was taken over (rescued after expiry, or canceled) changes nothing
//! and is told so. Follow-up commands are inserted in the same transaction as the finish,
//! and only when the finish applied.

mod commands;
mod cron;
mod error;
mod inbox;
mod locks;
mod outbox;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use commands::{
    AttemptError, CancelOutcome, CancelParams, ClaimParams, ClaimedCommand, CommandRecord,
    CommandStore, Finish, FinishOutcome, InsertCommand, LeaseRenewal, ListFilter, OutputError,
    OwedFollowUps,
};
pub use cron::{CronStore, Firing};
pub use error::{StoreError, StoreErrorKind};
pub use inbox::InboxStore;
pub use locks::{HeldLock, LockHolder, LockStore};
pub use outbox::{EnqueueOutcome, MessageFailure, NewMessage, OutboxStore};

/// The default most payload bytes (inputs, outputs, error messages, follow-ups) one
/// statement carries: [`Store::max_statement_bytes`] unless the backend says otherwise.
pub const DEFAULT_MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// The future every store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A storage backend: its clock, its wake-ups, and one accessor per face.
pub trait Store: Send + Sync + 'static {
    /// The caller's connection or transaction, as the `*_in` methods take it.
    type Tx: ?Sized + 'static;

    /// A short name of the backend ("sqlite", "postgres", "mysql"), for logs.
    fn backend(&self) -> &'static str;

    /// The database's current time.
    fn now(&self) -> StoreFuture<'_, DateTime<Utc>>;

    /// Runs until `stop` fires, calling `wake.notify_one()` whenever another process
    /// inserts a due command (PostgreSQL `LISTEN`). Stores without push notifications
    /// return at once; the engine then relies on polling and in-process wake-ups.
    fn listen(&self, wake: Arc<Notify>, stop: CancellationToken) -> StoreFuture<'_, ()>;

    /// The newest schema version applied to the database, and the newest this build
    /// knows, as `(applied, expected)`.
    fn schema_versions(&self) -> StoreFuture<'_, (i64, i64)>;

    /// The command face: insert, claim, finish, renew, rescue, cancel, read.
    fn commands(&self) -> &dyn CommandStore<Self::Tx>;

    /// The lock face: named locks with fencing tokens.
    fn locks(&self) -> &dyn LockStore;

    /// The cron face: job definitions, their schedule state and their runs.
    fn cron(&self) -> &dyn CronStore;

    /// The outbox face: messages to deliver, their claims and inspection.
    fn outbox(&self) -> &dyn OutboxStore<Self::Tx>;

    /// The inbox face: received messages, processed once.
    fn inbox(&self) -> &dyn InboxStore<Self::Tx>;

    /// Most payload bytes (inputs, outputs, error messages, follow-ups) one statement may
    /// carry. Batches of many rows (finishes, `push_many`, outbox enqueues) are split so
    /// that no statement goes over it; a single row larger than this still gets a
    /// statement of its own. Defaults to [`DEFAULT_MAX_STATEMENT_BYTES`] (4 MiB); a
    /// backend whose server limits statement size (MySQL/MariaDB's `max_allowed_packet`)
    /// returns less when that limit is smaller.
    fn max_statement_bytes(&self) -> usize {
        DEFAULT_MAX_STATEMENT_BYTES
    }

    /// The largest single value (an input, an output with its row) the server can take in
    /// one statement at all, when it has such a limit (MySQL/MariaDB's
    /// `max_allowed_packet` less room for the rest of the statement); `None` when the
    /// configured size limits are the only bound. Pushes over it are refused before SQL,
    /// and a result over it is recorded as a `refused` attempt without being sent.
    fn max_row_bytes(&self) -> Option<usize> {
        None
    }
}
