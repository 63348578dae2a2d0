//! Runs orch's migrations under a lock, recording them in orch's own migration table
//! (`{prefix}migrations`, never the application's `seaql_migrations`).
//!
//! Two instances starting together are safe: PostgreSQL takes a transaction-scoped
//! advisory lock, MySQL/MariaDB a named `GET_LOCK` on one pinned connection, and SQLite an
//! immediate (write) transaction; whoever waits finds the work done.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement};
use tracing::info;

mod migrations;

pub(crate) use migrations::OUTBOX_CLAIM_LOCK;

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
            exec(&txn, sql.build(), "take the migration lock").await?;
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
