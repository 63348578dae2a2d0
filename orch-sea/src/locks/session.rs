//! A lock that lives in a database session (PostgreSQL advisory locks, MySQL/MariaDB
//! `GET_LOCK`): held as long as its connection, which belongs to the lock alone.

use std::future::Future;
use std::pin::Pin;

use orch_core::store::{HeldLock, StoreFuture};
use sea_orm::sqlx;
use tokio::sync::Mutex;

use crate::error::sqlx_error;

pub(super) type SqlxFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'a>>;

/// A connection that can check and give up a session lock by its key.
pub(super) trait Session: Send + 'static {
    /// Whether this session still holds the lock of `key`.
    fn holds<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, bool>;
    /// Gives up the lock of `key`.
    fn unlock<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, ()>;
    /// Closes the connection, which ends every lock it holds.
    fn close(self) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// A held session lock and the connection it lives on.
pub(super) struct SessionLock<S> {
    conn: Mutex<Option<S>>,
    key: String,
    token: u64,
}

impl<S: Session> SessionLock<S> {
    pub(super) fn new(conn: S, key: String, token: u64) -> Self {
        Self {
            conn: Mutex::new(Some(conn)),
            key,
            token,
        }
    }
}

impl<S: Session> HeldLock for SessionLock<S> {
    fn token(&self) -> u64 {
        self.token
    }

    fn check(&self) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let mut slot = self.conn.lock().await;
            let Some(conn) = slot.as_mut() else {
                return Ok(false);
            };
            if matches!(conn.holds(&self.key).await, Ok(true)) {
                return Ok(true);
            }
            // Lost, or a broken or confused session: close it, which surely ends the lock.
            if let Some(conn) = slot.take() {
                conn.close().await;
            }
            Ok(false)
        })
    }

    fn release(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let Some(mut conn) = self.conn.lock().await.take() else {
                return Ok(());
            };
            let unlocked = conn.unlock(&self.key).await;
            // Closing the session ends the lock even if the unlock failed.
            conn.close().await;
            unlocked.map_err(|e| sqlx_error("release a lock", e))
        })
    }
}
