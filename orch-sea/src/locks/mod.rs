//! The lock face on sea-orm: [`LockStore`] for [`SeaStore`], one file per dialect, since
//! each backend locks its own way (see `orch_core::lock` for the semantics):
//! - `postgres.rs`: a session advisory lock on a connection of its own;
//! - `mysql.rs`: `GET_LOCK` on a connection of its own;
//! - `sqlite.rs`: a lease row with an expiry, renewed by the guard's keeper.
//!
//! On every backend the `{prefix}locks` row of the name keeps the fencing token, bumped in
//! the same session right after the lock is taken, and the current holder.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod session;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

use orch_core::store::{HeldLock, LockHolder, LockStore, StoreError, StoreFuture};
use uuid::Uuid;

use crate::backend::Backend;
use crate::store::SeaStore;

impl LockStore for SeaStore {
    fn try_lock<'a>(
        &'a self,
        name: &'a str,
        holder: Uuid,
        ttl: Duration,
    ) -> StoreFuture<'a, Option<Box<dyn HeldLock>>> {
        let store = self.clone();
        let name = name.to_owned();
        Box::pin(async move {
            // A lock taken while the caller stops waiting must not stay behind: the try
            // runs to completion on a task of its own, and a lock it took that nobody
            // receives any more is released there (on SQLite it would otherwise stay held
            // until its TTL; elsewhere its connection would go back to the pool holding it).
            let (deliver, receive) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let taken = match store.inner().backend {
                    #[cfg(feature = "postgres")]
                    Backend::Postgres => postgres::try_lock(&store, &name, holder, ttl).await,
                    #[cfg(feature = "mysql")]
                    Backend::MySql => mysql::try_lock(&store, &name, holder, ttl).await,
                    #[cfg(feature = "sqlite")]
                    Backend::Sqlite => sqlite::try_lock(&store, &name, holder, ttl).await,
                    #[allow(unreachable_patterns, reason = "backends compiled out")]
                    other => Err(not_compiled(other)),
                };
                if let Err(Ok(Some(unwanted))) = deliver.send(taken)
                    && let Err(error) = unwanted.release().await
                {
                    tracing::warn!(lock = %name, %error, "releasing a lock taken after its caller stopped waiting failed; it frees at its TTL");
                }
            });
            receive.await.map_err(|e| {
                StoreError::new(
                    orch_core::store::StoreErrorKind::Query,
                    "take a lock",
                    Some(Box::new(e)),
                )
            })?
        })
    }

    fn holder<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<LockHolder>> {
        Box::pin(async move {
            match self.inner().backend {
                #[cfg(feature = "postgres")]
                Backend::Postgres => postgres::holder(self, name).await,
                #[cfg(feature = "mysql")]
                Backend::MySql => mysql::holder(self, name).await,
                #[cfg(feature = "sqlite")]
                Backend::Sqlite => sqlite::holder(self, name).await,
                #[allow(unreachable_patterns, reason = "backends compiled out")]
                other => Err(not_compiled(other)),
            }
        })
    }
}

#[allow(dead_code, reason = "used only when a backend is compiled out")]
fn not_compiled(backend: Backend) -> StoreError {
    StoreError::new(
        orch_core::store::StoreErrorKind::Query,
        format!(
            "take a lock: the {} backend is not compiled in",
            backend.name()
        ),
        None,
    )
}

/// The TTL in whole seconds, at least 1.
#[allow(dead_code, reason = "not every backend uses it")]
fn ttl_secs(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// The holder of a `(holder, token)` row; a row without a holder has none.
#[allow(dead_code, reason = "not every backend uses it")]
fn holder_of((holder, token): (Option<Uuid>, i64)) -> Option<LockHolder> {
    holder.map(|holder| LockHolder {
        holder,
        token: to_token(token),
    })
}

/// A token read back from the database.
fn to_token(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
