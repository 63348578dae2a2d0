//! Job definitions: upsert (insert, update when changed, or leave), delete, pause and
//! resume, read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use orch_core::cron::{JobDefinition, JobInfo, Misfire, Overlap, Upserted};
use orch_core::store::StoreError;
use sea_orm::{ConnectionTrait, QueryResult};

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::{Sql, begin_write, col, millis, time, to_u32};
use crate::store::SeaStore;

const WHAT: &str = "write a cron job";

/// The definition columns, in [`bind_definition`]'s order.
const DEFINITION: &str =
    "schedule, time_zone, command, input, target, timeout_ms, max_attempts, misfire, overlap";

/// Every column [`info`] reads.
const COLUMNS: &str = "name, schedule, time_zone, command, input, target, timeout_ms, \
    max_attempts, misfire, overlap, paused, next_fire_at, last_fire_at";

fn bind_definition(sql: &mut Sql, job: &JobDefinition) {
    sql.bind(job.schedule.clone())
        .push(", ")
        .bind(job.time_zone.clone())
        .push(", ")
        .bind(job.command.clone())
        .push(", ")
        .bind(job.input.clone())
        .push(", ")
        .bind(job.target.clone())
        .push(", ")
        .bind(millis(job.timeout))
        .push(", ")
        .bind(i64::from(job.max_attempts))
        .push(", ")
        .bind(job.misfire.as_str())
        .push(", ")
        .bind(job.overlap.as_str());
}

fn micros(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(|t| t.timestamp_micros())
}

pub(crate) async fn upsert(
    store: &SeaStore,
    job: &JobDefinition,
    next_fire_at: Option<DateTime<Utc>>,
) -> Result<Upserted, StoreError> {
    let inner = store.inner();
    let (b, t) = (inner.backend, &inner.tables.cron_jobs);
    let txn = begin_write(&inner.db, WHAT).await?;
    // Insert if absent; instances starting together race here, and one of them wins.
    let mut sql = Sql::new(b);
    sql.push("INSERT INTO ")
        .push(t)
        .push(&format!(
            " (name, {DEFINITION}, paused, next_fire_at, last_fire_at, created_at, updated_at) VALUES ("
        ))
        .bind(job.name.clone())
        .push(", ");
    bind_definition(&mut sql, job);
    sql.push(", 0, ")
        .bind(micros(next_fire_at))
        .push(", NULL, ")
        .now()
        .push(", ")
        .now()
        .push(")");
    sql.push(if b == Backend::MySql {
        " ON DUPLICATE KEY UPDATE name = name"
    } else {
        " ON CONFLICT (name) DO NOTHING"
    });
    // MySQL reports a duplicate left alone as one affected row (sqlx asks for found
    // rows), so it looks first; the insert still never fails on a racing duplicate.
    let absent = b != Backend::MySql
        || read_in(&txn, b, t, Some(&job.name), false, 1, false)
            .await?
            .is_empty();
    let inserted = txn
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let created = if b == Backend::MySql {
        absent
    } else {
        inserted.rows_affected() == 1
    };
    let outcome = if created {
        Upserted::Created
    } else {
        let existing = read_in(&txn, b, t, Some(&job.name), false, 1, true)
            .await?
            .pop();
        if existing.is_some_and(|e| same_definition(&e, job)) {
            Upserted::Unchanged
        } else {
            let mut sql = Sql::new(b);
            sql.push("UPDATE ").push(t).push(" SET (").push(DEFINITION);
            if b == Backend::MySql {
                // MySQL has no row-value assignment: one column at a time.
                let mut sql = Sql::new(b);
                sql.push("UPDATE ").push(t).push(" SET ");
                let values: [(&str, sea_orm::Value); 9] = [
                    ("schedule", job.schedule.clone().into()),
                    ("time_zone", job.time_zone.clone().into()),
                    ("command", job.command.clone().into()),
                    ("input", job.input.clone().into()),
                    ("target", job.target.clone().into()),
                    ("timeout_ms", millis(job.timeout).into()),
                    ("max_attempts", i64::from(job.max_attempts).into()),
                    ("misfire", job.misfire.as_str().into()),
                    ("overlap", job.overlap.as_str().into()),
                ];
                for (column, value) in values {
                    sql.push(column).push(" = ").bind(value).push(", ");
                }
                finish_update(&mut sql, next_fire_at, &job.name);
                txn.execute_raw(sql.build())
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            } else {
                sql.push(") = (");
                bind_definition(&mut sql, job);
                sql.push("), ");
                finish_update(&mut sql, next_fire_at, &job.name);
                txn.execute_raw(sql.build())
                    .await
                    .map_err(|e| db_error(WHAT, e))?;
            }
            Upserted::Updated
        }
    };
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(outcome)
}

fn finish_update(sql: &mut Sql, next_fire_at: Option<DateTime<Utc>>, name: &str) {
    sql.push("next_fire_at = ")
        .bind(micros(next_fire_at))
        .push(", updated_at = ")
        .now()
        .push(" WHERE name = ")
        .bind(name.to_owned());
}

fn same_definition(existing: &JobInfo, job: &JobDefinition) -> bool {
    existing.definition == *job
}

pub(crate) async fn delete(store: &SeaStore, name: &str) -> Result<bool, StoreError> {
    let inner = store.inner();
    let mut sql = Sql::new(inner.backend);
    sql.push("DELETE FROM ")
        .push(&inner.tables.cron_jobs)
        .push(" WHERE name = ")
        .bind(name.to_owned());
    let done = inner
        .db
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error("delete a cron job", e))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_paused(
    store: &SeaStore,
    name: &str,
    paused: bool,
    next_fire_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let inner = store.inner();
    let mut sql = Sql::new(inner.backend);
    sql.push("UPDATE ")
        .push(&inner.tables.cron_jobs)
        .push(" SET paused = ")
        .bind(i64::from(paused));
    if !paused {
        sql.push(", next_fire_at = ").bind(micros(next_fire_at));
    }
    sql.push(", updated_at = ")
        .now()
        .push(" WHERE name = ")
        .bind(name.to_owned());
    let done = inner
        .db
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error("pause or resume a cron job", e))?;
    // A server may count only changed rows: a job paused twice must still be found.
    if done.rows_affected() == 1 {
        return Ok(true);
    }
    Ok(!read(store, Some(name), false, 1).await?.is_empty())
}

/// Jobs by name (one, or all), or only the due ones.
pub(crate) async fn read(
    store: &SeaStore,
    name: Option<&str>,
    due_only: bool,
    limit: u32,
) -> Result<Vec<JobInfo>, StoreError> {
    let inner = store.inner();
    read_in(
        &inner.db,
        inner.backend,
        &inner.tables.cron_jobs,
        name,
        due_only,
        limit,
        false,
    )
    .await
}

async fn read_in<C: ConnectionTrait>(
    conn: &C,
    b: Backend,
    table: &str,
    name: Option<&str>,
    due_only: bool,
    limit: u32,
    for_update: bool,
) -> Result<Vec<JobInfo>, StoreError> {
    let mut sql = Sql::new(b);
    sql.push("SELECT ")
        .push(COLUMNS)
        .push(" FROM ")
        .push(table)
        .push(" WHERE 1 = 1");
    if let Some(name) = name {
        sql.push(" AND name = ").bind(name.to_owned());
    }
    if due_only {
        sql.push(" AND paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= ")
            .now()
            .push(" ORDER BY next_fire_at");
    } else {
        sql.push(" ORDER BY name");
    }
    sql.push(" LIMIT ").bind(i64::from(limit));
    if for_update && b != Backend::Sqlite {
        sql.push(" FOR UPDATE");
    }
    let rows = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error("read cron jobs", e))?;
    rows.iter().map(info).collect()
}

fn info(row: &QueryResult) -> Result<JobInfo, StoreError> {
    const READ: &str = "read a cron job";
    let timeout_ms: i64 = col(row, 6, READ)?;
    let misfire: String = col(row, 8, READ)?;
    let overlap: String = col(row, 9, READ)?;
    let paused: i32 = col(row, 10, READ)?;
    let definition = JobDefinition {
        name: col(row, 0, READ)?,
        schedule: col(row, 1, READ)?,
        time_zone: col(row, 2, READ)?,
        command: col(row, 3, READ)?,
        input: col(row, 4, READ)?,
        target: col(row, 5, READ)?,
        timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
        max_attempts: to_u32(col::<i32>(row, 7, READ)?.into()),
        misfire: Misfire::from_stored(&misfire),
        overlap: Overlap::from_stored(&overlap),
    };
    Ok(JobInfo::new(
        definition,
        paused != 0,
        col::<Option<i64>>(row, 11, READ)?.map(time),
        col::<Option<i64>>(row, 12, READ)?.map(time),
    ))
}
