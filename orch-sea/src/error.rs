//! Maps sea-orm / sqlx errors onto orch's backend-agnostic [`StoreError`], keeping the
//! original as its source.

use orch_core::store::{StoreError, StoreErrorKind};
use sea_orm::{DbErr, RuntimeErr};

/// PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, admin shutdown,
/// read-only transaction (a demoted primary), statement canceled (`statement_timeout`), lock
/// not available (`lock_timeout`).
const PG_RETRYABLE: [&str; 6] = ["40001", "40P01", "57P01", "25006", "57014", "55P03"];
/// PostgreSQL SQLSTATE classes and codes of a statement refused for what it held: data
/// exceptions (`22…`: a byte sequence, number or length a column does not take), integrity
/// constraints (`23…`), an exception raised by a trigger or function (`P0001`), a program
/// limit (`54…`: a value too large for an index row, say).
const PG_REJECTED_CLASSES: [&str; 3] = ["22", "23", "54"];
const PG_REJECTED: [&str; 1] = ["P0001"];
/// MySQL/MariaDB error numbers worth retrying at once: deadlock, lock wait timeout, statement
/// over `max_statement_time` (MariaDB 1969, MySQL 3024). (The driver's `code()` is the
/// SQLSTATE, `HY000` for a lock wait timeout, so the number is read from the MySQL error
/// itself.)
#[cfg(feature = "mysql")]
const MYSQL_RETRYABLE: [u16; 4] = [1213, 1205, 1969, 3024];
/// MySQL/MariaDB error numbers of a statement refused for what it held: a column cannot be
/// null (1048), duplicate key (1062), row too large (1118), packet over
/// `max_allowed_packet` (1153), result over it (1301), out-of-range value (1264, 1690),
/// incorrect value (1292, 1366), data too long (1406), a trigger's `SIGNAL` (1644), a
/// check constraint (3819, 4025).
#[cfg(feature = "mysql")]
const MYSQL_REJECTED: [u16; 13] = [
    1048, 1062, 1118, 1153, 1301, 1264, 1690, 1292, 1366, 1406, 1644, 3819, 4025,
];
/// MySQL/MariaDB error numbers of a connection that went away mid-statement.
#[cfg(feature = "mysql")]
const MYSQL_CONNECTION: [u16; 2] = [2006, 2013];
/// SQLite result codes worth retrying: busy, locked (primary codes; extended ones share the
/// low byte).
const SQLITE_RETRYABLE: [&str; 2] = ["5", "6"];
/// SQLite result codes of a statement refused for what it held: too big (18), a constraint
/// or a trigger's `RAISE` (19), a datatype mismatch (20).
const SQLITE_REJECTED: [&str; 3] = ["18", "19", "20"];

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
            #[cfg(feature = "mysql")]
            if let Some(mysql) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
                let number = mysql.number();
                return if MYSQL_RETRYABLE.contains(&number) {
                    StoreErrorKind::Conflict
                } else if MYSQL_CONNECTION.contains(&number) {
                    StoreErrorKind::Connection
                } else if MYSQL_REJECTED.contains(&number) {
                    StoreErrorKind::Rejected
                } else {
                    StoreErrorKind::Query
                };
            }
            let code = db
                .code()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            let low_byte = code
                .parse::<u32>()
                .map(|n| (n & 0xff).to_string())
                .unwrap_or_default();
            #[cfg(feature = "postgres")]
            let postgres = db
                .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                .is_some();
            #[cfg(not(feature = "postgres"))]
            let postgres = false;
            if postgres {
                if PG_RETRYABLE.contains(&code.as_str()) {
                    StoreErrorKind::Conflict
                } else if PG_REJECTED.contains(&code.as_str())
                    || PG_REJECTED_CLASSES
                        .iter()
                        .any(|class| code.starts_with(class))
                {
                    StoreErrorKind::Rejected
                } else {
                    StoreErrorKind::Query
                }
            } else if SQLITE_RETRYABLE.contains(&low_byte.as_str()) {
                StoreErrorKind::Conflict
            } else if SQLITE_REJECTED.contains(&low_byte.as_str()) {
                StoreErrorKind::Rejected
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

#[cfg(all(test, feature = "mysql"))]
mod tests {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};

    use super::*;

    /// A MariaDB lock wait timeout (error 1205, SQLSTATE `HY000`) is a transient conflict,
    /// and a syntax error is not. Needs the test server (`ORCH_TEST_MYSQL_URL`).
    #[tokio::test]
    async fn mysql_errors_are_classified_by_number() {
        let url = std::env::var("ORCH_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
        let a = Database::connect(&url).await.expect("connect a");
        let b = Database::connect(&url).await.expect("connect b");
        let table = format!("orch_err_{}", uuid::Uuid::new_v4().simple());
        a.execute_unprepared(&format!("CREATE TABLE {table} (id INT PRIMARY KEY)"))
            .await
            .expect("create");
        a.execute_unprepared(&format!("INSERT INTO {table} VALUES (1)"))
            .await
            .expect("insert");
        let holder = a.begin().await.expect("begin");
        holder
            .execute_unprepared(&format!("SELECT id FROM {table} WHERE id = 1 FOR UPDATE"))
            .await
            .expect("lock the row");
        let waiter = b.begin().await.expect("begin");
        waiter
            .execute_unprepared("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .expect("short wait");
        let error = waiter
            .execute_unprepared(&format!("SELECT id FROM {table} WHERE id = 1 FOR UPDATE"))
            .await
            .expect_err("lock wait timeout");
        let classified = db_error("wait for a row lock", error);
        assert_eq!(classified.kind(), StoreErrorKind::Conflict, "{classified}");
        assert!(classified.is_transient());
        let _ = waiter.rollback().await;
        let _ = holder.rollback().await;
        let error = b
            .execute_unprepared("SELEC 1")
            .await
            .expect_err("syntax error");
        assert_eq!(
            db_error("run nonsense", error).kind(),
            StoreErrorKind::Query
        );
        let _ = a.execute_unprepared(&format!("DROP TABLE {table}")).await;
    }
}
