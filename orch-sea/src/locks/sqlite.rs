//! SQLite: a lease row. Taking the lock writes the holder and an expiry into the name's
//! row when it is free or its lease has run out (bumping the fencing token in the same
//! statement); the guard's keeper renews the lease every third of its TTL; a holder that
//! dies stops renewing and the lock is free once the lease has run out.

use std::time::Duration;

use orch_core::store::{HeldLock, LockHolder, StoreError, StoreFuture};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::to_token;
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, micros};
use crate::store::SeaStore;

pub(super) async fn try_lock(
    store: &SeaStore,
    name: &str,
    holder: Uuid,
    ttl: Duration,
) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
    let inner = store.inner();
    let locks = &inner.tables.locks;
    let mut sql = Sql::new(Backend::Sqlite);
    sql.push("INSERT INTO ")
        .push(locks)
        .push(" (name, token, holder, acquired_at, expires_at) VALUES (")
        .bind(name.to_owned())
        .push(", 1, ")
        .bind(holder)
        .push(", ")
        .now()
        .push(", ")
        .now()
        .push(" + ")
        .bind(micros(ttl))
        .push(") ON CONFLICT (name) DO UPDATE SET token = ")
        .push(locks)
        .push(".token + 1, holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at WHERE ")
        .push(locks)
        .push(".holder IS NULL OR ")
        .push(locks)
        .push(".expires_at < ")
        .now()
        .push(" RETURNING token");
    let row = inner
        .db
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error("take a lock", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let token: i64 = col(&row, 0, "take a lock")?;
    Ok(Some(Box::new(Held {
        store: store.clone(),
        name: name.to_owned(),
        holder,
        token,
        ttl,
    })))
}

pub(super) async fn holder(store: &SeaStore, name: &str) -> Result<Option<LockHolder>, StoreError> {
    let inner = store.inner();
    let mut sql = Sql::new(Backend::Sqlite);
    sql.push("SELECT holder, token FROM ")
        .push(&inner.tables.locks)
        .push(" WHERE name = ")
        .bind(name.to_owned())
        .push(" AND holder IS NOT NULL AND expires_at >= ")
        .now();
    let row = inner
        .db
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error("read a lock's holder", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(LockHolder {
        holder: col(&row, 0, "read a lock's holder")?,
        token: to_token(col(&row, 1, "read a lock's holder")?),
    }))
}

/// A held lease.
struct Held {
    store: SeaStore,
    name: String,
    holder: Uuid,
    token: i64,
    ttl: Duration,
}

impl Held {
    /// `UPDATE locks SET … WHERE` this hold is still the current one.
    fn update(&self, set: impl FnOnce(&mut Sql)) -> sea_orm::Statement {
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("UPDATE ")
            .push(&self.store.inner().tables.locks)
            .push(" SET ");
        set(&mut sql);
        sql.push(" WHERE name = ")
            .bind(self.name.clone())
            .push(" AND holder = ")
            .bind(self.holder)
            .push(" AND token = ")
            .bind(self.token);
        sql.build()
    }
}

impl HeldLock for Held {
    fn token(&self) -> u64 {
        to_token(self.token)
    }

    /// Renews the lease if this hold is still the current one. A lease that ran out but
    /// was not taken over is renewed too: nobody held the lock in between.
    fn check(&self) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let stmt = self.update(|sql| {
                sql.push("expires_at = ")
                    .now()
                    .push(" + ")
                    .bind(micros(self.ttl));
            });
            let done = self
                .store
                .inner()
                .db
                .execute_raw(stmt)
                .await
                .map_err(|e| db_error("renew a lock", e))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn release(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let stmt = self.update(|sql| {
                sql.push("holder = NULL, expires_at = NULL");
            });
            self.store
                .inner()
                .db
                .execute_raw(stmt)
                .await
                .map_err(|e| db_error("release a lock", e))?;
            Ok(())
        })
    }
}
