//! Per-name queue figures for health checks, each from an index: due pending commands
//! (the due index), running ones (the lease index), dead ones (the dead index).

use std::collections::BTreeMap;
use std::time::Duration;

use orch_core::health::QueueHealth;
use orch_core::store::StoreError;
use sea_orm::ConnectionTrait;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, col};
use crate::tables::Tables;

const WHAT: &str = "read queue figures";

pub(crate) async fn queue_stats<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
) -> Result<Vec<QueueHealth>, StoreError> {
    let mut queues: BTreeMap<String, QueueHealth> = BTreeMap::new();
    let mut sql = Sql::new(backend);
    sql.push("SELECT name, COUNT(*), MAX(")
        .now()
        .push(" - run_at) FROM ")
        .push(&tables.commands)
        .push(" WHERE status = 'pending' AND run_at <= ")
        .now()
        .push(" GROUP BY name");
    for row in query(conn, sql).await? {
        let name: String = col(&row, 0, WHAT)?;
        let age_us: i64 = col(&row, 2, WHAT)?;
        let queue = queues
            .entry(name.clone())
            .or_insert_with(|| QueueHealth::new(name));
        queue.due = count(&row)?;
        queue.oldest_due_age = Some(Duration::from_micros(u64::try_from(age_us).unwrap_or(0)));
    }
    for (status, field) in [("running", 0), ("dead", 1)] {
        let mut sql = Sql::new(backend);
        sql.push("SELECT name, COUNT(*) FROM ")
            .push(&tables.commands)
            .push(" WHERE status = '")
            .push(status)
            .push("' GROUP BY name");
        for row in query(conn, sql).await? {
            let name: String = col(&row, 0, WHAT)?;
            let queue = queues
                .entry(name.clone())
                .or_insert_with(|| QueueHealth::new(name));
            let n = count(&row)?;
            if field == 0 {
                queue.running = n;
            } else {
                queue.dead = n;
            }
        }
    }
    Ok(queues.into_values().collect())
}

async fn query<C: ConnectionTrait>(
    conn: &C,
    sql: Sql,
) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
    conn.query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))
}

fn count(row: &sea_orm::QueryResult) -> Result<u64, StoreError> {
    let n: i64 = col(row, 1, WHAT)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
