//! PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) keyed by a 64-bit hash of
//! the table prefix and the name, held on a connection taken out of the pool for as long
//! as the lock lives. Closing that connection, or the server noticing it dead, releases
//! the lock; TCP keepalives on it make a cut network noticed within the lock's TTL.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use orch_core::store::{HeldLock, LockHolder, StoreError};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, AssertSqlSafe};
use uuid::Uuid;

use super::session::{Session, SessionLock, SqlxFuture};
use super::{holder_of, to_token, ttl_secs};
use crate::error::sqlx_error;
use crate::store::SeaStore;

/// The advisory-lock key of `$1` (the prefixed name).
const KEY: &str = "('x' || left(md5($1), 16))::bit(64)::bigint";

const WHAT: &str = "take a lock";

/// Whether this session holds the advisory lock of `$1`.
fn held_here() -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND pid = pg_backend_pid() AND objsubid = 1 \
         AND ((classid::bigint << 32) | objid::bigint) = {KEY})"
    )
}

pub(super) async fn try_lock(
    store: &SeaStore,
    name: &str,
    holder: Uuid,
    ttl: Duration,
) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
    let inner = store.inner();
    let key = format!("{}{name}", inner.tables.prefix);
    let pool = inner.db.get_postgres_connection_pool();
    let mut pooled = pool.acquire().await.map_err(|e| sqlx_error(WHAT, e))?;
    let got: bool =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT pg_try_advisory_lock({KEY})")))
            .bind(&key)
            .fetch_one(&mut *pooled)
            .await
            .map_err(|e| sqlx_error(WHAT, e))?;
    if !got {
        return Ok(None);
    }
    // From here the connection is the lock's own: dropping it closes it and frees the lock.
    let mut conn = pooled.detach();
    let every = ttl_secs(ttl) / 3;
    for (setting, value) in [
        ("tcp_keepalives_idle", every.max(1)),
        ("tcp_keepalives_interval", (every / 2).max(1)),
        ("tcp_keepalives_count", 2),
    ] {
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(setting)
            .bind(value.to_string())
            .execute(&mut conn)
            .await
            .map_err(|e| sqlx_error(WHAT, e))?;
    }
    let locks = &inner.tables.locks;
    let token: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "INSERT INTO {locks} (name, token, holder, acquired_at) \
         VALUES ($1, 1, $2, (EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint) \
         ON CONFLICT (name) DO UPDATE SET token = {locks}.token + 1, holder = EXCLUDED.holder, \
         acquired_at = EXCLUDED.acquired_at RETURNING token"
    )))
    .bind(name)
    .bind(holder)
    .fetch_one(&mut conn)
    .await
    .map_err(|e| sqlx_error("bump a lock's fencing token", e))?;
    Ok(Some(Box::new(SessionLock::new(conn, key, to_token(token)))))
}

pub(super) async fn holder(store: &SeaStore, name: &str) -> Result<Option<LockHolder>, StoreError> {
    let inner = store.inner();
    let key = format!("{}{name}", inner.tables.prefix);
    let pool = inner.db.get_postgres_connection_pool();
    let row: Option<(Option<Uuid>, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT holder, token FROM {} WHERE name = $2 AND EXISTS (SELECT 1 FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((classid::bigint << 32) | objid::bigint) = {KEY})",
        inner.tables.locks
    )))
    .bind(&key)
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(|e| sqlx_error("read a lock's holder", e))?;
    Ok(row.and_then(holder_of))
}

impl Session for PgConnection {
    fn holds<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, bool> {
        Box::pin(
            sqlx::query_scalar(AssertSqlSafe(held_here()))
                .bind(key)
                .fetch_one(self),
        )
    }

    fn unlock<'a>(&'a mut self, key: &'a str) -> SqlxFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(AssertSqlSafe(format!("SELECT pg_advisory_unlock({KEY})")))
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
