//! Runs orch's migrations under a lock, recording them in orch's own migration table
//! (`{prefix}migrations`, never the application's `seaql_migrations`).
//!
//! Two instances starting together are safe: PostgreSQL takes a transaction-scoped
//! advisory lock, MySQL/MariaDB a named `GET_LOCK` on one pinned connection, and SQLite an
//! immediate (write) transaction; whoever waits finds the work done.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement};
use tracing::info;

mod migrations;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::tables::Tables;
use migrations::Migration;
use orch_core::store::StoreError;

/// How long MySQL waits for another instance's migration lock, in seconds.
const MYSQL_LOCK_WAIT_SECS: i64 = 120;

/// Applies every migration not yet recorded. Returns the versions applied now.
pub(crate) async fn run(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
) -> Result<Vec<i64>, StoreError> {
    let txn = crate::sql::begin_write(db, "begin the migration transaction").await?;
    let lock_name = format!("orch_migrate_{}", tables.prefix);
    match backend {
        Backend::Postgres => {
            let mut sql = Sql::new(backend);
            sql.push("SELECT pg_advisory_xact_lock(hashtext(")
                .bind(lock_name.clone())
                .push(")::bigint)");
            exec(&txn, sql.build(), "take the migration lock").await?;
        }
        Backend::MySql => {
            let mut sql = Sql::new(backend);
            sql.push("SELECT GET_LOCK(CONCAT(DATABASE(), '.', ")
                .bind(lock_name.clone())
                .push("), ")
                .bind(MYSQL_LOCK_WAIT_SECS)
                .push(")");
            let got = txn
                .query_one_raw(sql.build())
                .await
                .map_err(|e| db_error("take the migration lock", e))?
                .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok().flatten());
            if got != Some(1) {
                return Err(StoreError::new(
                    orch_core::store::StoreErrorKind::Conflict,
                    format!(
                        "take the migration lock: another instance held it for {MYSQL_LOCK_WAIT_SECS} s (GET_LOCK returned {got:?})"
                    ),
                    None,
                ));
            }
        }
        Backend::Sqlite => {}
    }
    let result = apply(&txn, backend, tables).await;
    if backend == Backend::MySql {
        let mut sql = Sql::new(backend);
        sql.push("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.', ")
            .bind(lock_name)
            .push("))");
        exec(&txn, sql.build(), "release the migration lock").await?;
    }
    let applied = result?;
    txn.commit()
        .await
        .map_err(|e| db_error("commit the migrations", e))?;
    Ok(applied)
}

async fn apply(
    txn: &DatabaseTransaction,
    backend: Backend,
    tables: &Tables,
) -> Result<Vec<i64>, StoreError> {
    txn.execute_unprepared(&migrations::migrations_table(backend, tables))
        .await
        .map_err(|e| db_error("create the migration table", e))?;
    let rows = txn
        .query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            format!("SELECT version FROM {}", tables.migrations),
        ))
        .await
        .map_err(|e| db_error("read applied migrations", e))?;
    let done: Vec<i64> = rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<i64>(0).ok())
        .collect();
    let mut applied = Vec::new();
    for Migration {
        version,
        name,
        statements,
    } in migrations::migrations(backend, tables)
    {
        if done.contains(&version) {
            continue;
        }
        for statement in statements {
            let statement = if backend == Backend::MySql {
                resumable(&statement)
            } else {
                statement
            };
            txn.execute_unprepared(&statement)
                .await
                .map_err(|e| db_error(&format!("apply migration {version} ({name})"), e))?;
        }
        let mut sql = Sql::new(backend);
        sql.push(&format!(
            "INSERT INTO {} (version, name, applied_at) VALUES (",
            tables.migrations
        ))
        .bind(version)
        .push(", ")
        .bind(name)
        .push(", ")
        .now()
        .push(")");
        exec(txn, sql.build(), "record a migration").await?;
        info!(version, name, prefix = %tables.prefix, "applied orch migration");
        applied.push(version);
    }
    Ok(applied)
}

/// A MySQL/MariaDB migration statement made safe to run again. DDL there commits on its
/// own, so a process killed halfway through a migration leaves some of its tables and
/// indexes behind without the migration's row; the next start runs the whole migration
/// again, and every statement must then find its work done rather than fail.
fn resumable(statement: &str) -> String {
    const REWRITES: [(&str, &str); 6] = [
        ("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS "),
        ("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS "),
        ("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX IF NOT EXISTS "),
        ("INSERT INTO ", "INSERT IGNORE INTO "),
        (" ADD COLUMN ", " ADD COLUMN IF NOT EXISTS "),
        ("DROP INDEX ", "DROP INDEX IF EXISTS "),
    ];
    let mut out = statement.to_owned();
    for (from, to) in REWRITES {
        if !out.contains(to) {
            out = out.replacen(from, to, 1);
        }
    }
    out
}

async fn exec(txn: &DatabaseTransaction, stmt: Statement, what: &str) -> Result<(), StoreError> {
    txn.execute_raw(stmt)
        .await
        .map(|_| ())
        .map_err(|e| db_error(what, e))
}

/// Drops every orch table of this prefix.
pub(crate) async fn drop_all(db: &DatabaseConnection, tables: &Tables) -> Result<(), StoreError> {
    for statement in migrations::drop_all(tables) {
        db.execute_unprepared(&statement)
            .await
            .map_err(|e| db_error("drop orch tables", e))?;
    }
    Ok(())
}

/// The newest applied schema version (0 for none) and the newest this build knows.
pub(crate) async fn versions(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
) -> Result<(i64, i64), StoreError> {
    let expected = migrations::migrations(backend, tables)
        .last()
        .map_or(0, |m| m.version);
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT MAX(version) FROM {}", tables.migrations),
        ))
        .await
        .map_err(|e| db_error("read the schema version", e))?;
    let applied = row
        .and_then(|r| r.try_get_by_index::<Option<i64>>(0).ok().flatten())
        .unwrap_or(0);
    Ok((applied, expected))
}

#[cfg(test)]
mod tests {
    use super::resumable;

    #[test]
    fn mysql_statements_are_made_resumable() {
        assert_eq!(
            resumable("CREATE TABLE t (a INT)"),
            "CREATE TABLE IF NOT EXISTS t (a INT)"
        );
        assert_eq!(
            resumable("CREATE TABLE IF NOT EXISTS t (a INT)"),
            "CREATE TABLE IF NOT EXISTS t (a INT)"
        );
        assert_eq!(
            resumable("CREATE UNIQUE INDEX i ON t (a)"),
            "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a)"
        );
        assert_eq!(
            resumable("ALTER TABLE t ADD COLUMN b INT"),
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS b INT"
        );
        assert_eq!(
            resumable("INSERT INTO t (a) VALUES (1)"),
            "INSERT IGNORE INTO t (a) VALUES (1)"
        );
        assert_eq!(
            resumable("DROP INDEX i ON t"),
            "DROP INDEX IF EXISTS i ON t"
        );
    }
}
