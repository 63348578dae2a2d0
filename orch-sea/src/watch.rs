//! Wake-ups from other processes on SQLite and MySQL/MariaDB, which have no `NOTIFY`: a
//! connection of its own asks, every `wake_probe`, one question whose answer changes when
//! another process commits work, and wakes the engine when it does.
//!
//! - SQLite: `PRAGMA data_version`, which changes whenever another connection commits to
//!   the file (read from shared memory in WAL mode: no disk read, no lock).
//! - MySQL/MariaDB: the newest due time of a pending command, read from the due index
//!   (`(status, run_at)`: one index dive, whatever the table holds). A push due now, a
//!   follow-up committed with its parent and a delayed command coming due all move it.
//!
//! A change only wakes the producer, which then claims as usual, so a spurious wake-up
//! costs one claim and a missed one (a push committed long after its insert) waits for the
//! next poll.

use std::sync::Arc;
use std::time::Duration;

use orch_core::store::StoreError;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use orch_core::store::StoreErrorKind;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use tracing::debug;

use crate::backend::Backend;
use crate::tables::Tables;

/// The shortest pause between two probes.
const MIN_PROBE: Duration = Duration::from_millis(1);

#[cfg(any(feature = "sqlite", feature = "mysql"))]
fn watch_error(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::new(
        StoreErrorKind::Connection,
        "watch for work committed elsewhere",
        Some(Box::new(e)),
    )
}

/// Probes every `every` until `stop` fires, waking `wake` when the answer changes.
pub(crate) async fn watch(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    every: Duration,
    wake: Arc<Notify>,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    let every = every.max(MIN_PROBE);
    match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            use sea_orm::sqlx::Connection;
            let pool = db.get_sqlite_connection_pool();
            let mut conn = pool.acquire().await.map_err(watch_error)?.detach();
            let result = run(every, &wake, &stop, &mut conn, |conn| {
                Box::pin(async move {
                    sea_orm::sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                        .fetch_one(conn)
                        .await
                        .map(Some)
                })
            })
            .await;
            let _ = conn.close().await;
            result
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            use sea_orm::sqlx::Connection;
            let pool = db.get_mysql_connection_pool();
            let mut conn = pool.acquire().await.map_err(watch_error)?.detach();
            let sql = format!(
                "SELECT MAX(run_at) FROM {} WHERE status = 'pending' AND run_at <= {}",
                tables.commands,
                backend.now_us()
            );
            let result = run(every, &wake, &stop, &mut conn, |conn| {
                let sql = sql.clone();
                Box::pin(async move {
                    sea_orm::sqlx::query_scalar::<_, Option<i64>>(sea_orm::sqlx::AssertSqlSafe(sql))
                        .fetch_one(conn)
                        .await
                })
            })
            .await;
            let _ = conn.close().await;
            result
        }
        _ => {
            let _ = (db, tables, every, wake, stop);
            Ok(())
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
type Probe<'c, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<T>, sea_orm::sqlx::Error>> + Send + 'c>,
>;

/// The probe loop: the first answer is the baseline; every later one that differs wakes.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
async fn run<C, T: PartialEq + Send>(
    every: Duration,
    wake: &Notify,
    stop: &CancellationToken,
    conn: &mut C,
    probe: impl for<'c> Fn(&'c mut C) -> Probe<'c, T>,
) -> Result<(), StoreError> {
    let mut last = probe(conn).await.map_err(watch_error)?;
    debug!(?every, "watching for work committed elsewhere");
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        let now = probe(conn).await.map_err(watch_error)?;
        if now != last {
            wake.notify_one();
            last = now;
        }
    }
}
