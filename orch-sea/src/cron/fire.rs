//! Firing jobs (fenced on the fire time read), manual runs, and the runs of a job.

use std::time::Duration;

use orch_core::Pushed;
use orch_core::When;
use orch_core::store::{CommandRecord, Firing, InsertCommand, StoreError};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::commands::{insert, read};
use crate::error::db_error;
use crate::sql::{Sql, begin_write, col, id_value, micros};
use crate::store::SeaStore;

const WHAT: &str = "fire a cron job";

pub(crate) async fn fire(store: &SeaStore, firing: &Firing) -> Result<bool, StoreError> {
    let inner = store.inner();
    let (b, t) = (inner.backend, &inner.tables);
    let last_fire = firing
        .runs
        .iter()
        .filter_map(|r| match r.when {
            When::At(at) => Some(at.timestamp_micros()),
            _ => None,
        })
        .max();
    let txn = begin_write(&inner.db, WHAT).await?;
    let mut sql = Sql::new(b);
    sql.push("UPDATE ")
        .push(&t.cron_jobs)
        .push(" SET next_fire_at = ")
        .bind(firing.next.map(|n| n.timestamp_micros()));
    if let Some(last) = last_fire {
        sql.push(", last_fire_at = ").bind(last);
    }
    sql.push(", updated_at = ")
        .now()
        .push(" WHERE name = ")
        .bind(firing.job.clone())
        .push(" AND paused = 0 AND next_fire_at = ")
        .bind(firing.expected_next.timestamp_micros());
    let moved = txn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    if moved.rows_affected() != 1 {
        txn.rollback().await.map_err(|e| db_error(WHAT, e))?;
        return Ok(false);
    }
    add_runs(&txn, store, &firing.job, &firing.runs).await?;
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(true)
}

/// Inserts runs and marks the new ones as the job's.
async fn add_runs(
    txn: &DatabaseTransaction,
    store: &SeaStore,
    job: &str,
    runs: &[InsertCommand],
) -> Result<Vec<Pushed>, StoreError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let inner = store.inner();
    let pushed = insert::insert(
        txn,
        inner.backend,
        &inner.tables,
        store.notify(),
        inner.limit.max_bytes,
        runs,
    )
    .await?;
    let created: Vec<_> = pushed.iter().filter(|p| p.created).map(|p| p.id).collect();
    for chunk in created.chunks(500) {
        let mut sql = Sql::new(inner.backend);
        sql.push("UPDATE ")
            .push(&inner.tables.commands)
            .push(" SET cron_job = ")
            .bind(job.to_owned())
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().map(|id| id_value(*id)));
        txn.execute_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
    }
    Ok(pushed)
}

pub(crate) async fn trigger(
    store: &SeaStore,
    name: &str,
    run: &InsertCommand,
) -> Result<Option<Pushed>, StoreError> {
    let inner = store.inner();
    let txn = begin_write(&inner.db, "run a cron job now").await?;
    let mut sql = Sql::new(inner.backend);
    sql.push("SELECT name FROM ")
        .push(&inner.tables.cron_jobs)
        .push(" WHERE name = ")
        .bind(name.to_owned());
    let exists = txn
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error("run a cron job now", e))?
        .is_some();
    if !exists {
        txn.rollback()
            .await
            .map_err(|e| db_error("run a cron job now", e))?;
        return Ok(None);
    }
    let pushed = add_runs(&txn, store, name, std::slice::from_ref(run)).await?;
    txn.commit()
        .await
        .map_err(|e| db_error("run a cron job now", e))?;
    Ok(pushed.first().copied())
}

pub(crate) async fn active_runs(store: &SeaStore, name: &str) -> Result<u64, StoreError> {
    let inner = store.inner();
    let mut sql = Sql::new(inner.backend);
    sql.push("SELECT COUNT(*) FROM ")
        .push(&inner.tables.commands)
        .push(" WHERE cron_job = ")
        .bind(name.to_owned())
        .push(" AND status IN ('pending', 'running')");
    let row = inner
        .db
        .query_one_raw(sql.build())
        .await
        .map_err(|e| db_error("count a cron job's active runs", e))?;
    let n: i64 = match row {
        Some(row) => col(&row, 0, "count a cron job's active runs")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn runs(
    store: &SeaStore,
    name: &str,
    limit: u32,
) -> Result<Vec<CommandRecord>, StoreError> {
    let inner = store.inner();
    let mut sql = read::select_records(inner.backend, &inner.tables);
    sql.push(" WHERE cron_job = ")
        .bind(name.to_owned())
        .push(" ORDER BY run_at DESC, id DESC LIMIT ")
        .bind(i64::from(limit.min(10_000)));
    let rows = inner
        .db
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error("list a cron job's runs", e))?;
    rows.iter().map(read::record).collect()
}

pub(crate) async fn prune(store: &SeaStore, older_than: Duration) -> Result<u64, StoreError> {
    let inner = store.inner();
    let (b, t) = (inner.backend, &inner.tables);
    let finished = |sql: &mut Sql| {
        sql.push(" WHERE cron_job IS NOT NULL AND status IN ('succeeded', 'dead', 'canceled') AND finished_at < ")
            .now()
            .push(" - ")
            .bind(micros(older_than));
    };
    let txn = begin_write(&inner.db, "prune cron runs").await?;
    let mut sql = Sql::new(b);
    sql.push("DELETE FROM ")
        .push(&t.errors)
        .push(" WHERE command_id IN (SELECT id FROM ")
        .push(&t.commands);
    finished(&mut sql);
    sql.push(")");
    txn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error("prune cron runs", e))?;
    let mut sql = Sql::new(b);
    sql.push("DELETE FROM ").push(&t.commands);
    finished(&mut sql);
    let done = txn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error("prune cron runs", e))?;
    txn.commit()
        .await
        .map_err(|e| db_error("prune cron runs", e))?;
    Ok(done.rows_affected())
}
