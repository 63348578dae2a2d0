//! Turns: a row of the locks table that a claim locks `FOR UPDATE` before anything else,
//! so that claims of one kind run one at a time across every process on the database. The
//! lock is the transaction's: it frees at commit or rollback, and with the session when the
//! server ends it.
//!
//! Outbox claims always take their turn (on PostgreSQL and MySQL/MariaDB); command claims
//! take one on MySQL/MariaDB with `SeaStoreConfig::serialize_claims` (PostgreSQL's command
//! claims use an advisory lock instead, see `commands/claim`).

use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::tables::Tables;

/// The locks-table row outbox claims lock, one claim at a time (inserted by migration 5).
pub(crate) const OUTBOX_CLAIMS: &str = "orch.outbox.claim";

/// The locks-table row command claims lock on MySQL/MariaDB with `serialize_claims`
/// (inserted by migration 11).
pub(crate) const COMMAND_CLAIMS: &str = "orch.commands.claim";

/// Locks the row `turn` of the locks table for the rest of `txn`, inserting it first if it
/// is missing (deleted by hand: the schema inserts both turns' rows). `what` names the
/// caller in errors.
pub(crate) async fn take(
    txn: &DatabaseTransaction,
    backend: Backend,
    tables: &Tables,
    turn: &str,
    what: &'static str,
) -> Result<(), StoreError> {
    for _ in 0..2 {
        let mut sql = Sql::new(backend);
        sql.push("SELECT token FROM ")
            .push(&tables.locks)
            .push(" WHERE name = ")
            .bind(turn)
            .push(" FOR UPDATE");
        if txn
            .query_one_raw(sql.build())
            .await
            .map_err(|e| db_error(what, e))?
            .is_some()
        {
            return Ok(());
        }
        let mut sql = Sql::new(backend);
        sql.push(if backend == Backend::MySql {
            "INSERT IGNORE INTO "
        } else {
            "INSERT INTO "
        })
        .push(&tables.locks)
        .push(" (name, token) VALUES (")
        .bind(turn)
        .push(", 0)");
        if backend == Backend::Postgres {
            sql.push(" ON CONFLICT (name) DO NOTHING");
        }
        txn.execute_raw(sql.build())
            .await
            .map_err(|e| db_error(what, e))?;
    }
    Ok(())
}
