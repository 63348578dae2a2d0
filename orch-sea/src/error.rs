//! Maps sea-orm / sqlx errors onto orch's backend-agnostic [`StoreError`], keeping the
//! original as its source.

use orch_core::store::{StoreError, StoreErrorKind};
use sea_orm::{DbErr, RuntimeErr};

/// PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, admin shutdown,
/// read-only transaction (a demoted primary).
const PG_RETRYABLE: [&str; 4] = ["40001", "40P01", "57P01", "25006"];
/// MySQL error numbers worth retrying: deadlock, lock wait timeout.
const MYSQL_RETRYABLE: [&str; 2] = ["1213", "1205"];
/// SQLite result codes worth retrying: busy, locked (primary codes; extended ones share the
/// low byte).
const SQLITE_RETRYABLE: [&str; 2] = ["5", "6"];

/// Wraps a database error raised while doing `what`.
pub(crate) fn db_error(what: &str, error: DbErr) -> StoreError {
    let kind = classify(&error);
    StoreError::new(kind, what, Some(Box::new(error)))
}

fn classify(error: &DbErr) -> StoreErrorKind {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreErrorKind::Connection,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            classify_sqlx(e)
        }
        _ => StoreErrorKind::Query,
    }
}

fn classify_sqlx(error: &sea_orm::sqlx::Error) -> StoreErrorKind {
    use sea_orm::sqlx::Error as E;
    match error {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => {
            StoreErrorKind::Connection
        }
        E::Protocol(_) => StoreErrorKind::Connection,
        E::Database(db) => {
            let code = db
                .code()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            let low_byte = code
                .parse::<u32>()
                .map(|n| (n & 0xff).to_string())
                .unwrap_or_default();
            if PG_RETRYABLE.contains(&code.as_str())
                || MYSQL_RETRYABLE.contains(&code.as_str())
                || SQLITE_RETRYABLE.contains(&low_byte.as_str())
            {
                StoreErrorKind::Conflict
            } else {
                StoreErrorKind::Query
            }
        }
        _ => StoreErrorKind::Query,
    }
}

/// Wraps a driver error raised while doing `what` (statements orch runs on connections of
/// its own, outside sea-orm: the lock connections).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn sqlx_error(what: &str, error: sea_orm::sqlx::Error) -> StoreError {
    let kind = classify_sqlx(&error);
    StoreError::new(kind, what, Some(Box::new(error)))
}

/// A row that could not be read back.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        what,
        Some(detail.to_string().into()),
    )
}
