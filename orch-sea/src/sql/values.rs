//! Bound values and read-back columns shared by every statement, and the write
//! transaction.

use orch_core::CommandId;
use sea_orm::{QueryResult, Value};
use uuid::Uuid;

use crate::error::corrupt;
use orch_core::store::StoreError;

/// Begins a transaction that writes: on SQLite `BEGIN IMMEDIATE`, so the write lock is taken
/// up front and two writers queue on the busy timeout instead of failing to upgrade.
pub(crate) async fn begin_write(
    db: &sea_orm::DatabaseConnection,
    what: &str,
) -> Result<sea_orm::DatabaseTransaction, StoreError> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
    .map_err(|e| crate::error::db_error(what, e))
}

/// The value bound for a command id.
pub(crate) fn id_value(id: CommandId) -> Value {
    Value::from(id.as_uuid())
}

/// Microseconds since the epoch as a UTC time.
pub(crate) fn time(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Reads column `index` of `row`.
pub(crate) fn col<T: sea_orm::TryGetable>(
    row: &QueryResult,
    index: usize,
    what: &str,
) -> Result<T, StoreError> {
    row.try_get_by_index::<T>(index)
        .map_err(|e| corrupt(what, format!("column {index}: {e}")))
}

/// Reads a uuid column.
pub(crate) fn uuid_col(row: &QueryResult, index: usize, what: &str) -> Result<Uuid, StoreError> {
    col::<Uuid>(row, index, what)
}

/// Converts a non-negative count read from the database.
pub(crate) fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// Converts a duration to whole microseconds for SQL arithmetic.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Converts a duration to whole milliseconds.
pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
