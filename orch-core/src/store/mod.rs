//! The storage seam: one object-safe trait, one method per state transition.
//!
//! **This is an internal seam until 1.0: its shape may change in any release. Do not
//! implement it outside orch.** `orch-sea` implements it on sea-orm for SQLite, PostgreSQL
//! and MySQL/MariaDB.
//!
//! # The lease protocol
//! A claim moves due rows from `pending` to `running`, increments `attempts`, and stamps
//! them with the claiming worker, a fresh [`LeaseToken`](crate::LeaseToken) and a lease
//! expiry of `min(timeout, lease_ttl) + lease_buffer` from the database's clock. Every later
//! transition of that attempt is a compare-and-set on `(id, status = running, lease_token)`:
//! a worker whose lease was taken over (reaped after expiry, or canceled) changes nothing
//! and is told so. Follow-up commands are inserted in the same transaction as the finish,
//! and only when the finish applied.

mod error;
mod params;
mod record;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use error::{StoreError, StoreErrorKind};
pub use params::{
    CancelOutcome, CancelParams, ClaimParams, ClaimedCommand, Finish, FinishOutcome, InsertCommand,
    Inserted, LeaseRenewal, ListFilter,
};
pub use record::{AttemptError, CommandRecord, OutputError};

use crate::id::CommandId;

/// The future every store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Durable storage of command rows. See the module docs for the lease protocol.
pub trait Store: Send + Sync + 'static {
    /// A short name of the backend ("sqlite", "postgres", "mysql"), for logs.
    fn backend(&self) -> &'static str;

    /// Inserts commands in one transaction. A command whose idempotency key already exists
    /// is not inserted; the existing row's id is returned instead.
    fn insert<'a>(&'a self, commands: &'a [InsertCommand]) -> StoreFuture<'a, Vec<Inserted>>;

    /// Claims up to `params.limit` due commands under a new lease, oldest `run_at` first.
    fn claim<'a>(&'a self, params: &'a ClaimParams) -> StoreFuture<'a, Vec<ClaimedCommand>>;

    /// Applies fenced end-of-attempt transitions in one transaction, with their follow-ups.
    /// Returns, for each item in order, whether it applied (false: the lease was lost).
    fn finish<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>>;

    /// Extends (or only checks) leases. Returns, for each item in order, whether the lease
    /// is still held (false: the command was canceled, reaped or finished elsewhere).
    fn renew<'a>(&'a self, leases: &'a [LeaseRenewal]) -> StoreFuture<'a, Vec<bool>>;

    /// Running commands whose lease expired by the database's clock, at most `limit`.
    fn expired<'a>(&'a self, limit: u32) -> StoreFuture<'a, Vec<ClaimedCommand>>;

    /// Cancels a pending or running command, inserting its follow-ups in the same
    /// transaction.
    fn cancel<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, CancelOutcome>;

    /// Reads one command with its recorded errors.
    fn get(&self, id: CommandId) -> StoreFuture<'_, Option<CommandRecord>>;

    /// Lists commands matching a filter, newest first (without their errors).
    fn list<'a>(&'a self, filter: &'a ListFilter) -> StoreFuture<'a, Vec<CommandRecord>>;

    /// The database's current time.
    fn now(&self) -> StoreFuture<'_, DateTime<Utc>>;

    /// Runs until `stop` fires, calling `wake.notify_one()` whenever another process
    /// inserts a due command (PostgreSQL `LISTEN`). Stores without push notifications
    /// return at once; the engine then relies on polling and in-process wake-ups.
    fn listen(&self, wake: Arc<Notify>, stop: CancellationToken) -> StoreFuture<'_, ()>;
}
