//! The wake-up for other processes after pushes in orch's own transactions (PostgreSQL).
//!
//! A `NOTIFY` inside a transaction makes its commit take a server-wide lock, so pushes that
//! each notified in their own transaction committed one after another. Pushes that orch
//! commits itself notify after their commit instead, through this notifier: a push marks a
//! wake-up as owed and returns; one task sends `pg_notify` for every mark made since its
//! last one, so a burst of pushes costs one notification per round trip, not one per push,
//! and none of their commits waits for another. A push in the caller's transaction
//! (`push_in`) still notifies inside it: its commit is the caller's, which orch cannot
//! follow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Sends the owed wake-ups, at most one statement at a time.
pub(crate) struct Notifier {
    channel: String,
    owed: Arc<AtomicBool>,
    wake: Arc<Notify>,
    started: std::sync::Once,
    stop: CancellationToken,
}

impl Notifier {
    /// A notifier on `channel`; its task starts with the first wake-up owed.
    pub(crate) fn new(channel: String) -> Self {
        Self {
            channel,
            owed: Arc::default(),
            wake: Arc::default(),
            started: std::sync::Once::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Marks a wake-up as owed (a push committed): it is sent within one round trip. The
    /// first call's `db` is the pool every later notification goes through.
    pub(crate) fn owe(&self, db: &DatabaseConnection) {
        self.owed.store(true, Ordering::Release);
        self.started.call_once(|| {
            let (db, channel) = (db.clone(), self.channel.clone());
            let (owed, wake, stop) = (self.owed.clone(), self.wake.clone(), self.stop.clone());
            tokio::spawn(send_owed(db, channel, owed, wake, stop));
        });
        self.wake.notify_one();
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn send_owed(
    db: DatabaseConnection,
    channel: String,
    owed: Arc<AtomicBool>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
        }
        while owed.swap(false, Ordering::AcqRel) {
            let statement = Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_notify($1, '')",
                [channel.clone().into()],
            );
            if let Err(error) = db.execute_raw(statement).await {
                // Engines elsewhere then find the pushes at their next poll.
                tracing::warn!(%error, "could not send the wake-up after a push");
            }
        }
    }
}
