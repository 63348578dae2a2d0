//! MySQL/MariaDB: `GET_LOCK` on a connection taken out of the pool for as long as the lock
//! lives. Lock names are server-wide and at most 64 characters, so the name used is
//! `orch:` and a SHA-256 of the database, the table prefix and the lock name. Closing the
//! connection releases the lock; a session `wait_timeout` of the lock's TTL makes the
//! server drop (and so release) a holder that went silent, and the guard's keeper pings
//! every third of it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use orch_core::store::{HeldLock, LockHolder, StoreError};
use sea_orm::sqlx::mysql::MySqlConnection;
use sea_orm::sqlx::{self, AssertSqlSafe};
use uuid::Uuid;

use super::session::{Session, SessionLock, SqlxFuture};
use super::{holder_of, to_token, ttl_secs};
use crate::error::sqlx_error;
use crate::store::SeaStore;

/// The server-wide lock name of `?` (the prefixed name).
const LOCK_NAME: &str = "CONCAT('orch:', LEFT(SHA2(CONCAT(DATABASE(), '.', ?), 256), 59))";

/// The database clock in microseconds (as in `sql/dialect.rs`).
const NOW_US: &str = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))";

const WHAT: &str = "take a lock";

pub(super) async fn try_lock(
    store: &SeaStore,
    name: &str,
    holder: Uuid,
    ttl: Duration,
) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
    let inner = store.inner();
    let key = format!("{}{name}", inner.tables.prefix);
    let pool = inner.db.get_mysql_connection_pool();
    let mut pooled = pool.acquire().await.map_err(|e| sqlx_error(WHAT, e))?;
    let got: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT GET_LOCK({LOCK_NAME}, 0)")))
            .bind(&key)
            .fetch_one(&mut *pooled)
            .await
            .map_err(|e| sqlx_error(WHAT, e))?;
    if got != Some(1) {
        return Ok(None);
    }
    // From here the connection is the lock's own: dropping it closes it and frees the lock.
    let mut conn = pooled.detach();
    // The keeper pings every third of the TTL; a holder silent for the whole TTL is dropped.
    sqlx::query(AssertSqlSafe(format!(
        "SET SESSION wait_timeout = {}",
        ttl_secs(ttl)
    )))
    .execute(&mut conn)
    .await
    .map_err(|e| sqlx_error(WHAT, e))?;
    let locks = &inner.tables.locks;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {locks} (name, token, holder, acquired_at) VALUES (?, 1, ?, {NOW_US}) \
         ON DUPLICATE KEY UPDATE token = token + 1, holder = VALUES(holder), \
         acquired_at = VALUES(acquired_at)"
    )))
    .bind(name)
    .bind(holder)
    .execute(&mut conn)
    .await
    .map_err(|e| sqlx_error("bump a lock's fencing token", e))?;
    // Only this session can change the row while it holds the lock.
    let token: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT token FROM {locks} WHERE name = ?"
    )))
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .map_err(|e| sqlx_error("read a lock's fencing token", e))?;
    Ok(Some(Box::new(SessionLock::new(conn, key, to_token(token)))))
}

pub(super) async fn holder(store: &SeaStore, name: &str) -> Result<Option<LockHolder>, StoreError> {
    let inner = store.inner();
    let key = format!("{}{name}", inner.tables.prefix);
    let pool = inner.db.get_mysql_connection_pool();
    let row: Option<(Option<Uuid>, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT holder, token FROM {} WHERE name = ? AND IS_USED_LOCK({LOCK_NAME}) IS NOT NULL",
        inner.tables.locks
    )))
    .bind(name)
    .bind(&key)
    .fetch_optional(pool)
    .await
    .map_err(|e| sqlx_error("read a lock's holder", e))?;
    Ok(row.and_then(holder_of))
}

impl Session for MySqlConnection {
    fn holds<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, bool> {
        Box::pin(async move {
            let held: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT IS_USED_LOCK({LOCK_NAME}) = CONNECTION_ID()"
            )))
            .bind(key)
            .fetch_one(self)
            .await?;
            Ok(held == Some(1))
        })
    }

    fn unlock<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(AssertSqlSafe(format!("SELECT RELEASE_LOCK({LOCK_NAME})")))
                .bind(key)
                .execute(self)
                .await
                .map(|_| ())
        })
    }

    fn close(self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let _ = sqlx::Connection::close(self).await;
        })
    }
}
