//! Owed `on_cancel` follow-ups: recorded by a cancel whose process had no handler to compute
//! them, listed and paid by an engine that has one.

use orch_core::CommandId;
use orch_core::store::{InsertCommand, OwedFollowUps, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col, id_value, uuid_col};
use crate::tables::Tables;

const WHAT: &str = "owed follow-ups";

/// Records, in the cancel's transaction, that the canceled command `id` owes its
/// `on_cancel` follow-ups.
pub(crate) async fn owe(
    txn: &DatabaseTransaction,
    backend: Backend,
    tables: &Tables,
    id: CommandId,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO ")
        .push(&tables.owed_follow_ups)
        .push(" (command_id, name, owed_since) SELECT id, name, ")
        .now()
        .push(" FROM ")
        .push(&tables.commands)
        .push(" WHERE id = ")
        .bind(id_value(id));
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(())
}

/// Debts of these names, oldest first, with the canceled commands' inputs. A row that
/// cannot be read is logged and left out.
pub(crate) async fn list(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    names: &[&'static str],
    limit: u32,
) -> Result<Vec<OwedFollowUps>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend);
    sql.push("SELECT c.id, c.name, c.input FROM ")
        .push(&tables.owed_follow_ups)
        .push(" o JOIN ")
        .push(&tables.commands)
        .push(" c ON c.id = o.command_id WHERE o.name IN ")
        .bind_list(names.iter().map(|n| (*n).to_owned()))
        .push(" ORDER BY o.owed_since LIMIT ")
        .bind(i64::from(limit));
    let rows = db
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut owed = Vec::with_capacity(rows.len());
    for row in &rows {
        let read = (|| {
            Ok::<_, StoreError>(OwedFollowUps {
                id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
                name: col(row, 1, WHAT)?,
                input: col(row, 2, WHAT)?,
            })
        })();
        match read {
            Ok(debt) => owed.push(debt),
            Err(error) => tracing::warn!(%error, "skipped an unreadable owed follow-up row"),
        }
    }
    Ok(owed)
}

/// Inserts the follow-ups owed by `id` and clears the debt in one transaction; false, with
/// nothing inserted, when the debt was already paid.
pub(crate) async fn pay(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    notify: bool,
    max_bytes: usize,
    id: CommandId,
    follow_ups: &[InsertCommand],
) -> Result<bool, StoreError> {
    let txn = crate::sql::begin_write(db, WHAT).await?;
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM ")
        .push(&tables.owed_follow_ups)
        .push(" WHERE command_id = ")
        .bind(id_value(id));
    let cleared = txn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?
        .rows_affected()
        == 1;
    if cleared && !follow_ups.is_empty() {
        super::insert::insert(&txn, backend, tables, notify, max_bytes, follow_ups).await?;
    }
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(cleared)
}
