//! Claiming a received message inside the caller's transaction: insert it as processed,
//! or lock the existing row and mark it processed unless it is processed, dead or known
//! with another content hash. A concurrent claim of the same message waits on the row (or
//! on the key of the uncommitted insert) and then sees it processed.

use orch_core::inbox::{InboxClaim, InboxStatus};
use orch_core::store::{StoreError, StoreErrorKind};
use sea_orm::ConnectionTrait;

use super::entries::{insert_first, key, read, seen_again};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::tables::Tables;

const WHAT: &str = "claim an inbox message";

pub(super) async fn claim<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    source: &str,
    message_id: &str,
    content_hash: &str,
) -> Result<InboxClaim, StoreError> {
    let ids = (source, message_id, content_hash);
    if insert_first(conn, backend, tables, ids, InboxStatus::Processed).await? {
        return Ok(InboxClaim::Claimed { attempt: 1 });
    }
    let Some(entry) = read(conn, backend, tables, source, message_id, true).await? else {
        // Only a snapshot older than the row's commit hides it (REPEATABLE READ or
        // SERIALIZABLE on PostgreSQL): a conflict the caller retries.
        return Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!(
                "{WHAT}: message `{message_id}` from `{source}` was recorded by a transaction \
                 this one cannot see; retry in a new transaction"
            ),
            None,
        ));
    };
    if backend != Backend::MySql {
        seen_again(conn, backend, tables, source, message_id).await?;
    }
    if entry.content_hash != content_hash {
        return Ok(InboxClaim::Conflict {
            stored_hash: entry.content_hash,
        });
    }
    match entry.status {
        InboxStatus::Processed => return Ok(InboxClaim::AlreadyProcessed),
        InboxStatus::Dead => return Ok(InboxClaim::Dead),
        _ => {}
    }
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(&tables.inbox)
        .push(" SET status = 'processed', attempts = attempts + 1, processed_at = ")
        .now();
    key(&mut sql, source, message_id);
    sql.push(" AND status NOT IN ('processed', 'dead')");
    let done = conn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    if done.rows_affected() == 1 {
        Ok(InboxClaim::Claimed {
            attempt: entry.attempts + 1,
        })
    } else {
        Ok(InboxClaim::AlreadyProcessed)
    }
}
