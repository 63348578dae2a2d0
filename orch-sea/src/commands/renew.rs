//! Lease renewal and checks for the heartbeat.

use std::collections::HashMap;

use orch_core::store::{LeaseRenewal, StoreError};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{col, id_value, micros, uuid_col};
use crate::tables::Tables;

const WHAT: &str = "renew leases";
const CHUNK: usize = 500;

pub(crate) async fn renew<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    leases: &[LeaseRenewal],
) -> Result<Vec<bool>, StoreError> {
    let t = &tables.commands;
    for lease in leases {
        let Some(extend) = lease.extend_by else {
            continue;
        };
        let mut sql = Sql::new(backend);
        sql.push("UPDATE ")
            .push(t)
            .push(" SET lease_expires_at = ")
            .now()
            .push(" + ")
            .bind(micros(extend))
            .push(" WHERE id = ")
            .bind(id_value(lease.id))
            .push(" AND lease_token = ")
            .bind(lease.lease.as_uuid())
            .push(" AND ")
            .status_is("status", "running");
        conn.execute_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
    }
    let mut held: HashMap<Uuid, Option<Uuid>> = HashMap::new();
    for chunk in leases.chunks(CHUNK) {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, lease_token FROM ")
            .push(t)
            .push(" WHERE ")
            .status_is("status", "running")
            .push(" AND id IN ")
            .bind_list(chunk.iter().map(|l| id_value(l.id)));
        let rows = conn
            .query_all_raw(sql.build())
            .await
            .map_err(|e| db_error(WHAT, e))?;
        for row in rows {
            held.insert(uuid_col(&row, 0, WHAT)?, col(&row, 1, WHAT)?);
        }
    }
    Ok(leases
        .iter()
        .map(|l| held.get(&l.id.as_uuid()) == Some(&Some(l.lease.as_uuid())))
        .collect())
}
