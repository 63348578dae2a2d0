//! [`LockStore`]: named locks with fencing tokens.
//!
//! A lock is taken by one holder at a time. Every successful take increments the name's
//! **fencing token** in the database, so tokens are strictly increasing per name across
//! all holders and processes: a resource that remembers the highest token it has seen can
//! refuse a holder whose lock has since passed to someone else.
//!
//! A held lock is released by [`HeldLock::release`], and also without it when its holder
//! goes away: on PostgreSQL and MySQL/MariaDB the lock lives in a database session (on a
//! connection of its own) and ends with it; on SQLite it is a lease row that expires unless
//! [`HeldLock::check`] renews it.

use std::time::Duration;

use super::StoreFuture;

/// Takes named locks.
pub trait LockStore: Send + Sync {
    /// Tries once to take `name` for `holder` (an opaque id recorded for observers).
    /// `ttl` bounds how long the lock outlives a holder that vanished without closing its
    /// connection (a network partition; on SQLite, any crash). Returns `None` when another
    /// holder has it.
    fn try_lock<'a>(
        &'a self,
        name: &'a str,
        holder: uuid::Uuid,
        ttl: Duration,
    ) -> StoreFuture<'a, Option<Box<dyn HeldLock>>>;

    /// Who holds `name` right now, if anyone.
    fn holder<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<LockHolder>>;
}

/// A lock this process holds.
pub trait HeldLock: Send + Sync {
    /// The fencing token of this hold: greater than that of every earlier hold of the name.
    fn token(&self) -> u64;

    /// Checks that the lock is still held, renewing its lease where it has one (SQLite).
    /// Returns false once it was lost; an error means the check itself failed.
    fn check(&self) -> StoreFuture<'_, bool>;

    /// Releases the lock. Releasing a lock that was already lost does nothing.
    fn release(&self) -> StoreFuture<'_, ()>;
}

/// The current holder of a lock, as observers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockHolder {
    /// The id the holder took the lock with.
    pub holder: uuid::Uuid,
    /// The fencing token of the current hold.
    pub token: u64,
}
