//! How many payload bytes one statement may carry on this server, read once when a store
//! is built.

use orch_core::store::{DEFAULT_MAX_STATEMENT_BYTES, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::backend::Backend;
use crate::error::{corrupt, db_error};

const WHAT: &str = "read the server's packet size";

/// The statement bound of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatementLimit {
    /// Most payload bytes per statement (see `Store::max_statement_bytes`).
    pub(crate) max_bytes: usize,
    /// MySQL/MariaDB's `max_allowed_packet` as read at build, in bytes.
    pub(crate) max_allowed_packet: Option<u64>,
}

/// Room left in a packet beside one large value: the statement's other values, its SQL
/// text and the protocol's framing.
pub(crate) const PACKET_OVERHEAD: u64 = 64 * 1024;

impl StatementLimit {
    /// The largest single value a statement can carry on this server, if it has a limit.
    pub(crate) fn max_row_bytes(&self) -> Option<usize> {
        self.max_allowed_packet.map(|packet| {
            usize::try_from(packet.saturating_sub(PACKET_OVERHEAD)).unwrap_or(usize::MAX)
        })
    }
}

/// Reads the bound: on MySQL/MariaDB, half of `@@max_allowed_packet` when that is less
/// than the default. A statement and all its bound values travel in one packet, with the
/// SQL text, each value's length and type, and the protocol's framing beside the
/// payloads; half the packet leaves room for all of that however the payloads are shaped.
/// PostgreSQL and SQLite have no such limit within reach: the default stands.
pub(crate) async fn read(
    db: &DatabaseConnection,
    backend: Backend,
) -> Result<StatementLimit, StoreError> {
    if backend != Backend::MySql {
        return Ok(StatementLimit {
            max_bytes: DEFAULT_MAX_STATEMENT_BYTES,
            max_allowed_packet: None,
        });
    }
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT @@max_allowed_packet",
        ))
        .await
        .map_err(|e| db_error(WHAT, e))?
        .ok_or_else(|| corrupt(WHAT, "no row"))?;
    let packet: u64 = super::col::<u64>(&row, 0, WHAT)
        .or_else(|_| super::col::<i64>(&row, 0, WHAT).map(|p| u64::try_from(p).unwrap_or(0)))?;
    let half = usize::try_from(packet / 2).unwrap_or(usize::MAX);
    Ok(StatementLimit {
        max_bytes: half.clamp(1, DEFAULT_MAX_STATEMENT_BYTES),
        max_allowed_packet: Some(packet),
    })
}
