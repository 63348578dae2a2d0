//! The MySQL/MariaDB finish: neither has `UPDATE … RETURNING`, so the rows that still match
//! the fence are locked with `SELECT … FOR UPDATE` first; they are exactly the rows the
//! joined `UPDATE` then changes.

use std::collections::HashSet;

use orch_core::store::StoreError;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{Row, TextWidths, bind_row, set_list};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::uuid_col;
use crate::tables::Tables;

const WHAT: &str = "record finished attempts";

pub(super) async fn update<C: ConnectionTrait>(
    conn: &C,
    tables: &Tables,
    rows: &[Row],
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let backend = Backend::MySql;
    let t = &tables.commands;
    // Lock the rows that still match the fence; they are exactly the ones the update hits.
    let mut sql = Sql::new(backend);
    sql.push("SELECT id, lease_token, ")
        .push("CASE WHEN lease_expires_at < ")
        .now()
        .push(" THEN 1 ELSE 0 END FROM ")
        .push(t)
        .push(" WHERE status = 'running' AND id IN ")
        .bind_list(rows.iter().map(|r| r.id))
        .push(" FOR UPDATE");
    let locked = conn
        .query_all_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut matched = HashSet::new();
    for row in &locked {
        let id = uuid_col(row, 0, WHAT)?;
        let token: Option<Uuid> = crate::sql::col(row, 1, WHAT)?;
        let expired: i64 = crate::sql::col::<i64>(row, 2, WHAT)
            .or_else(|_| crate::sql::col::<i32>(row, 2, WHAT).map(i64::from))?;
        if let Some(row) = rows.iter().find(|r| {
            r.id == id
                && Some(r.token) == token
                && match r.expired_only {
                    1 => expired == 1,
                    2 => expired == 0,
                    _ => true,
                }
        }) {
            matched.insert((id, row.token));
        }
    }
    let hit: Vec<&Row> = rows
        .iter()
        .filter(|r| matched.contains(&(r.id, r.token)))
        .collect();
    if hit.is_empty() {
        return Ok(matched);
    }
    let widths = TextWidths::of(hit.iter().copied());
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ").push(t).push(" AS c JOIN (");
    for (i, row) in hit.iter().enumerate() {
        sql.push(if i == 0 {
            "SELECT "
        } else {
            " UNION ALL SELECT "
        });
        bind_row(&mut sql, row, i == 0, (i == 0).then_some(&widths));
    }
    sql.push(") AS v ON c.id = v.v_id SET ");
    set_list(&mut sql, "c.");
    sql.push(" WHERE c.status = 'running' AND c.lease_token = v.v_token");
    conn.execute_raw(sql.build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    Ok(matched)
}
