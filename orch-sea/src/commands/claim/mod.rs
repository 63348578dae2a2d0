//! Claiming due commands. Every backend reads the claim index once per served
//! `(name, target)` pair and merges the pairs by `run_at, id` (see `due.rs`), so rows no
//! engine here serves cost a claim nothing. Per backend:
//! - PostgreSQL: one statement. A materialized CTE walks the pairs' index ranges through a
//!   `Merge Append` and locks each row it reaches (`FOR UPDATE SKIP LOCKED`, by `ctid`) until
//!   it holds `limit`, then `UPDATE … RETURNING` stamps them. With
//!   `SeaStoreConfig::serialize_claims`, claims take turns: the statement runs after an
//!   advisory lock, in the same round trip (see [`serialized_claim`]). While claims come
//!   back full, each range is read from a little before where the last claim's rows began,
//!   past the entries PostgreSQL keeps for rows claimed before (see `marks.rs`).
//! - MySQL/MariaDB: a short `READ COMMITTED` transaction (no gap locks): one statement
//!   picks the rows with a plain read of the served pairs' index ranges and locks, by
//!   primary key, those still free (and only those), then a fenced `UPDATE` stamps them
//!   (neither has `UPDATE … RETURNING`); see `mysql.rs`. With `serialize_claims`, the
//!   transaction first locks the turn's row of the locks table (see [`mysql_claim`]).
//! - SQLite: `BEGIN IMMEDIATE`, then `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`;
//!   SQLite has one writer at a time, so no row locks are needed.
//!
//! A claimed row that cannot be decoded never fails the claim: it is recorded `dead` once
//! the claim commits, and the others are returned (see `../unreadable.rs`).

use std::time::Duration;

use orch_core::store::{ClaimParams, ClaimedCommand, StoreError};
use orch_core::{CommandId, LeaseToken};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, IsolationLevel, QueryResult,
    TransactionTrait,
};

use super::finish::Fence;
use super::unreadable::{self, Decoded, Key};
use crate::backend::Backend;
use crate::error::db_error;
use crate::sql::Sql;
use crate::sql::{col, millis, to_u32, uuid_col};
use crate::store::Inner;
use crate::tables::Tables;

mod due;
mod inspect;
mod marks;
mod mysql;

pub(crate) use marks::ClaimMarks;

const WHAT: &str = "claim due commands";
/// Tries at releasing an ambiguous claim: more than a pool's worth of dead connections.
const RELEASE_TRIES: u32 = 12;

pub(crate) async fn claim(
    store: &Inner,
    params: &ClaimParams,
) -> Result<Vec<ClaimedCommand>, StoreError> {
    let (db, backend, tables) = (&store.db, store.backend, &store.tables);
    // PostgreSQL reads each range from the claims' mark while a backlog drains (see
    // `marks.rs`).
    let mut start = (backend == Backend::Postgres).then(|| store.claim_marks.start(params));
    let from = start.as_ref().map_or(i64::MIN, |start| start.from);
    let mut result = claim_from(store, params, from).await;
    if let (Some(start), Ok(first)) = (start.as_mut(), &result) {
        let short =
            u32::try_from(first.taken()).map_or(0, |taken| params.limit.saturating_sub(taken));
        if start.reads_from_mark() && short > 0 {
            // Short from the mark: rows due behind it may be waiting. Read every range now
            // for the rest, under the same lease token.
            start.sweep_now();
            let rest = ClaimParams {
                limit: short,
                ..params.clone()
            };
            result = match (result, claim_from(store, &rest, i64::MIN).await) {
                (Ok(first), Ok(more)) => Ok(first.and(more)),
                (_, Err(error)) | (Err(error), _) => Err(error),
            };
        }
    }
    if let Some(start) = start {
        match &result {
            Ok(decoded) => {
                let full = u32::try_from(decoded.taken()).is_ok_and(|taken| taken >= params.limit);
                store.claim_marks.record(start, full, decoded.earliest_due);
            }
            Err(_) => store.claim_marks.forget(start),
        }
    }
    if let Ok(decoded) = &result {
        unreadable::record_dead(store, &decoded.unreadable, Fence::Lease).await;
    }
    if result.is_err() {
        // The connection may have died during COMMIT: the claim may have committed with
        // nobody to run what it took. Hand back anything under this claim's token now,
        // rather than leave it to the reaper after the lease expires. Best effort: if the
        // database is still away, the reaper does it later.
        // Each try that meets a dead pooled connection drops it; the next gets another.
        let mut tries = 0;
        while let Err(error) = release_token(db, backend, tables, params).await {
            tries += 1;
            if tries >= RELEASE_TRIES || !error.is_transient() {
                tracing::warn!(%error, "could not release an ambiguous claim; the reaper will");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    result.map(|decoded| decoded.commands)
}

/// One claim statement (or transaction) of `params`, by backend; PostgreSQL reads each
/// range from the due time `from`.
async fn claim_from(store: &Inner, params: &ClaimParams, from: i64) -> Result<Decoded, StoreError> {
    let (db, backend, tables) = (&store.db, store.backend, &store.tables);
    let turns = store.config.serialize_claims;
    match store.claims_pool().await {
        // Claims take turns: the turn and the claim in one simple query.
        claims if backend == Backend::Postgres && turns => {
            serialized_claim(claims, db, tables, params, from).await
        }
        // One autocommitted statement on a connection already set up for claims.
        Some(claims) if backend == Backend::Postgres => {
            claim_in(claims, backend, tables, params, from).await
        }
        claims if backend == Backend::MySql => mysql_claim(claims, db, tables, params, turns).await,
        _ => {
            let _turn = store.sqlite_write_turn().await;
            claim_once(db, backend, tables, params, from).await
        }
    }
}

/// A PostgreSQL claim in its turn (`SeaStoreConfig::serialize_claims`), in one round trip:
/// one simple query (an implicit transaction) whose statements set the claim's planner
/// settings, take a transaction-scoped advisory lock keyed on the commands table (the
/// turn), and claim. Under `READ COMMITTED` the claim's snapshot is taken after the lock is
/// granted, so it sees what the claim before committed; the lock is released when the
/// query's transaction ends. The server never waits on this client while it holds the
/// turn, so a client cut off mid-claim holds no one up. The simple protocol binds nothing:
/// on the claims pool (`claims`, whose sessions hold the planner settings) the claim is a
/// statement prepared once per session and run by `EXECUTE` with its values written as
/// literals (see [`prepared_in_turn`]); without that pool the claim goes through `db`, sets
/// the planner settings for its own transaction, and has its values written into its text
/// ([`Sql::into_literal_text`]).
async fn serialized_claim(
    claims: Option<&DatabaseConnection>,
    db: &DatabaseConnection,
    tables: &Tables,
    params: &ClaimParams,
    from: i64,
) -> Result<Decoded, StoreError> {
    #[cfg(feature = "postgres")]
    {
        use sea_orm::sqlx::{self, AssertSqlSafe, Row as _};
        use sea_orm::{DatabaseConnectionType, DbErr, RuntimeErr};

        if params.names.is_empty() || params.targets.is_empty() || params.limit == 0 {
            return Ok(Decoded::default());
        }
        let db = claims.unwrap_or(db);
        let DatabaseConnectionType::SqlxPostgresPoolConnection(_) = &db.inner else {
            return Err(StoreError::new(
                orch_core::store::StoreErrorKind::Query,
                WHAT,
                Some("claims taking turns need a sqlx PostgreSQL pool".into()),
            ));
        };
        let pool = db.get_postgres_connection_pool();
        let turn = format!(
            "SELECT pg_advisory_xact_lock({})::text",
            turn_key(&tables.commands)
        );
        let claim = returning_statement(Backend::Postgres, tables, params, from);
        let ran = if claims.is_some() {
            let (text, arguments) = claim.into_prepared_parts().ok_or_else(nul_in_claim)?;
            prepared_in_turn(pool, &turn, &text, &arguments).await
        } else {
            // The main pool's sessions are the application's too: no statement of orch's
            // is left prepared in them, and the planner settings hold for this transaction.
            let text = claim.into_literal_text().ok_or_else(nul_in_claim)?;
            let mut statements = planner_settings();
            statements.extend([turn, text]);
            sqlx::raw_sql(AssertSqlSafe(statements.join("; ")))
                .fetch_all(pool)
                .await
        };
        let rows =
            ran.map_err(|e| db_error(WHAT, DbErr::Query(RuntimeErr::SqlxError(e.into()))))?;
        // The lock's row has one column; the claim's rows have [`CLAIMED_COLUMNS`].
        let claimed: Vec<QueryResult> = rows
            .into_iter()
            .filter(|row| row.len() == CLAIMED_COLUMNS)
            .map(QueryResult::from)
            .collect();
        let mut decoded = read_all_claimed(&claimed, params.token, 0);
        decoded.earliest_due = earliest_due(&claimed);
        Ok(decoded)
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = (claims, db, tables, params, from);
        unreachable!("a PostgreSQL store without the postgres feature")
    }
}

/// The claim in its turn on a claims-pool connection: `turn` (the lock), then `EXECUTE` of
/// the claim statement `text`, prepared once per session under a name derived from it, with
/// `arguments` (literals), in one simple query. The statement is then neither parsed nor
/// planned while the turn is held (its generic plan is cached, see
/// `crate::connect::CLAIM_PLANNER_SETTINGS`). A session that has not prepared it (a new
/// connection) fails the `EXECUTE` (SQLSTATE 26000), which ends the query's transaction and
/// with it the turn; the statement is then prepared and the claim sent once more on the
/// same connection.
#[cfg(feature = "postgres")]
async fn prepared_in_turn(
    pool: &sea_orm::sqlx::PgPool,
    turn: &str,
    text: &str,
    arguments: &str,
) -> Result<Vec<sea_orm::sqlx::postgres::PgRow>, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::{self, AssertSqlSafe};
    let name = format!("orch_claim_{:016x}", fnv1a(text));
    let query = format!("{turn}; EXECUTE {name}({arguments})");
    let mut conn = pool.acquire().await?;
    match sqlx::raw_sql(AssertSqlSafe(query.clone()))
        .fetch_all(&mut *conn)
        .await
    {
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("26000") => {
            sqlx::raw_sql(AssertSqlSafe(format!("PREPARE {name} AS {text}")))
                .execute(&mut *conn)
                .await?;
            sqlx::raw_sql(AssertSqlSafe(query))
                .fetch_all(&mut *conn)
                .await
        }
        ran => ran,
    }
}

/// The error of a claim whose values cannot be written as literals: a name or target holding
/// a NUL (no PostgreSQL text can).
#[cfg(feature = "postgres")]
fn nul_in_claim() -> StoreError {
    StoreError::new(
        orch_core::store::StoreErrorKind::Query,
        WHAT,
        Some("a claim's name or target holds a NUL character".into()),
    )
}

/// FNV-1a, 64 bits: the same in every process.
#[cfg(feature = "postgres")]
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Columns a claim returns: id, name, input, attempts, max_attempts, timeout_ms, run_at.
#[cfg(feature = "postgres")]
const CLAIMED_COLUMNS: usize = 7;

/// The advisory lock key of claims on `table`: a hash of its name (FNV-1a, 64 bits), the
/// same in every process, distinct per table prefix.
#[cfg(feature = "postgres")]
fn turn_key(table: &str) -> i64 {
    i64::from_ne_bytes(fnv1a(&format!("orch claims {table}")).to_ne_bytes())
}

/// A MySQL/MariaDB claim: a `READ COMMITTED` transaction on the claims pool (whose sessions
/// are already so) or, without it, on `db`. With `turns` (`SeaStoreConfig::
/// serialize_claims`) its first statement locks the turn, the locks table's row
/// `orch.commands.claim`: under `READ COMMITTED` every statement reads a fresh snapshot, so
/// the claim's read, after the wait, sees what the claim before committed. The claims
/// pool's sessions then end a transaction idle for [`TURN_IDLE_LIMIT`] (MariaDB's
/// `idle_transaction_timeout`), releasing the turn of a claimer cut off while holding it.
async fn mysql_claim(
    claims: Option<&DatabaseConnection>,
    db: &DatabaseConnection,
    tables: &Tables,
    params: &ClaimParams,
    turns: bool,
) -> Result<Decoded, StoreError> {
    let txn = match claims {
        Some(claims) => claims.begin().await.map_err(|e| db_error(WHAT, e))?,
        None => begin(db, Backend::MySql).await?,
    };
    if turns {
        crate::turn::take(
            &txn,
            Backend::MySql,
            tables,
            crate::turn::COMMAND_CLAIMS,
            WHAT,
        )
        .await?;
    }
    commit_claim(txn, Backend::MySql, tables, params, i64::MIN).await
}

/// How long a MySQL/MariaDB claim's transaction may sit idle in its turn before the server
/// ends it (see [`mysql_claim`]).
#[cfg(feature = "mysql")]
pub(crate) const TURN_IDLE_LIMIT: Duration = Duration::from_secs(5);

/// Puts back every row still running under this claim's token, refunding the attempt.
async fn release_token(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE ")
        .push(&tables.commands)
        .push(" SET status = 'pending', attempts = attempts - 1, lease_expires_at = NULL WHERE status = 'running' AND lease_token = ")
        .bind(params.token.as_uuid());
    let done = db
        .execute_raw(sql.build())
        .await
        .map_err(|e| db_error("release an ambiguous claim", e))?;
    Ok(done.rows_affected())
}

async fn claim_once(
    db: &DatabaseConnection,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
    from: i64,
) -> Result<Decoded, StoreError> {
    let txn = begin(db, backend).await?;
    commit_claim(txn, backend, tables, params, from).await
}

/// Claims in `txn` and commits it.
async fn commit_claim(
    txn: DatabaseTransaction,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
    from: i64,
) -> Result<Decoded, StoreError> {
    let claimed = claim_in(&txn, backend, tables, params, from).await?;
    txn.commit().await.map_err(|e| db_error(WHAT, e))?;
    Ok(claimed)
}

/// Begins a claim's transaction, with the settings its statements rely on.
async fn begin(
    db: &DatabaseConnection,
    backend: Backend,
) -> Result<DatabaseTransaction, StoreError> {
    match backend {
        Backend::Postgres => {
            // The claims pool's planner settings, for this transaction only.
            let txn = db.begin().await.map_err(|e| db_error(WHAT, e))?;
            txn.execute_unprepared(&planner_settings().join("; "))
                .await
                .map_err(|e| db_error(WHAT, e))?;
            Ok(txn)
        }
        Backend::Sqlite => crate::sql::begin_write(db, WHAT).await,
        // READ COMMITTED: the locking read takes record locks on the rows it takes and no
        // gap locks, so it never blocks a push nor another target's claim.
        Backend::MySql => db
            .begin_with_config(Some(IsolationLevel::ReadCommitted), None)
            .await
            .map_err(|e| db_error(WHAT, e)),
    }
}

/// The claims pool's planner settings as `SET LOCAL` statements, for a claim's transaction
/// on another connection.
fn planner_settings() -> Vec<String> {
    crate::connect::CLAIM_PLANNER_SETTINGS
        .iter()
        .map(|(name, value)| format!("SET LOCAL {name} = {value}"))
        .collect()
}

/// Claims through `txn`: a transaction from [`begin`], or on PostgreSQL a connection of the
/// claims pool (whose statement commits on its own). PostgreSQL reads each pair's range
/// from the due time `from` (see `marks.rs`); `i64::MIN` reads it whole.
async fn claim_in<C: ConnectionTrait>(
    txn: &C,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
    from: i64,
) -> Result<Decoded, StoreError> {
    if params.names.is_empty() || params.targets.is_empty() || params.limit == 0 {
        return Ok(Decoded::default());
    }
    match backend {
        Backend::MySql => mysql::claim(txn, tables, params).await,
        Backend::Postgres | Backend::Sqlite => {
            claim_returning(txn, backend, tables, params, from).await
        }
    }
}

/// The lease expiry expression for a row with `timeout_ms`.
pub(super) fn lease_expiry(
    sql: &mut Sql,
    backend: Backend,
    params: &ClaimParams,
    now: Option<i64>,
) {
    match now {
        Some(now) => sql.bind(now),
        None => sql.now(),
    };
    sql.push(" + (")
        .push(backend.least())
        .push("(timeout_ms, ")
        .bind(millis(params.lease_ttl))
        .push(") + ")
        .bind(millis(params.lease_buffer))
        .push(") * 1000");
}

/// The PostgreSQL and SQLite claim statement; on PostgreSQL each pair's range starts at the
/// due time `from` (see `marks.rs`).
fn returning_statement(backend: Backend, tables: &Tables, params: &ClaimParams, from: i64) -> Sql {
    let t = &tables.commands;
    let pairs = due::pairs(params);
    let mut sql = Sql::new(backend);
    if backend == Backend::Postgres {
        // The pairs' index scans merge lazily by `run_at, id`; each row they reach is
        // locked by its `ctid` (a row changed since the statement's snapshot fails the
        // `ctid` recheck and is skipped, as one locked by another claim is), and the walk
        // stops once `limit` rows are held. A locked row cannot move until this statement
        // ends, so the update finds each by that same `ctid` (a TID scan) rather than
        // descending the primary key once per row.
        sql.push("WITH due AS MATERIALIZED (SELECT l.row_ref FROM (");
        due::union_all(&mut sql, &pairs, |sql, pair| {
            sql.push("(");
            due::arm(
                sql,
                "ctid AS row_ref, run_at, id",
                t,
                due::PENDING_BY_STATUS,
                pair,
            );
            sql.push(" AND run_at >= ")
                .bind(from)
                .push(" ORDER BY run_at, id)");
        });
        sql.push(") d CROSS JOIN LATERAL (SELECT ctid AS row_ref FROM ")
            .push(t)
            .push(" WHERE ctid = d.row_ref AND status = 'pending' FOR UPDATE SKIP LOCKED) l ORDER BY d.run_at, d.id LIMIT ")
            .bind(i64::from(params.limit))
            .push(") UPDATE ")
            .push(t)
            .push(" AS c SET ");
    } else {
        sql.push("UPDATE ").push(t).push(" SET ");
    }
    sql.push("status = 'running', attempts = attempts + 1, started_at = ")
        .now()
        .push(", lease_owner = ")
        .bind(params.worker.as_uuid())
        .push(", lease_token = ")
        .bind(params.token.as_uuid())
        .push(", lease_expires_at = ");
    lease_expiry(&mut sql, backend, params, None);
    if backend == Backend::Postgres {
        sql.push(" FROM due WHERE c.ctid = due.row_ref RETURNING c.id, c.name, c.input, c.attempts, c.max_attempts, c.timeout_ms, c.run_at");
    } else {
        // SQLite merges the pairs' index ranges (`MERGE (UNION ALL)`) and stops at `limit`.
        sql.push(" WHERE id IN (SELECT id FROM (");
        due::union_all(&mut sql, &pairs, |sql, pair| {
            due::arm(sql, "id, run_at", t, due::PENDING_BY_STATUS, pair);
        });
        sql.push(" ORDER BY run_at, id LIMIT ")
            .bind(i64::from(params.limit))
            .push(")) RETURNING id, name, input, attempts, max_attempts, timeout_ms, run_at");
    }
    sql
}

async fn claim_returning<C: ConnectionTrait>(
    conn: &C,
    backend: Backend,
    tables: &Tables,
    params: &ClaimParams,
    from: i64,
) -> Result<Decoded, StoreError> {
    let rows = conn
        .query_all_raw(returning_statement(backend, tables, params, from).build())
        .await
        .map_err(|e| db_error(WHAT, e))?;
    let mut decoded = read_all_claimed(&rows, params.token, 0);
    decoded.earliest_due = earliest_due(&rows);
    Ok(decoded)
}

/// The earliest due time among a claim's rows (the last column of each), readable or not.
fn earliest_due(rows: &[QueryResult]) -> Option<i64> {
    rows.iter()
        .filter_map(|row| col::<i64>(row, CLAIMED_DUE_COLUMN, WHAT).ok())
        .min()
}

/// The column of a claimed row that holds its due time (PostgreSQL and SQLite).
const CLAIMED_DUE_COLUMN: usize = 6;

/// Reads a claim's rows with [`read_claimed`], setting apart those that cannot be decoded
/// with their id, this claim's lease and (if it can be read) their attempt number.
pub(super) fn read_all_claimed(
    rows: &[QueryResult],
    lease: LeaseToken,
    attempt_offset: i64,
) -> Decoded {
    unreadable::split(
        rows,
        WHAT,
        |row| read_claimed(row, lease, attempt_offset),
        |row| {
            Ok(Key {
                id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
                lease,
                attempt: col::<i32>(row, 3, WHAT)
                    .map_or(0, |attempts| to_u32(i64::from(attempts) + attempt_offset)),
            })
        },
    )
}

/// Reads a claimed row; `attempt_offset` is added to the stored attempt count (1 when the
/// row was read before its increment).
pub(super) fn read_claimed(
    row: &QueryResult,
    lease: LeaseToken,
    attempt_offset: i64,
) -> Result<ClaimedCommand, StoreError> {
    let attempts: i64 = col::<i32>(row, 3, WHAT)?.into();
    let max_attempts: i64 = col::<i32>(row, 4, WHAT)?.into();
    let timeout_ms: i64 = col(row, 5, WHAT)?;
    Ok(ClaimedCommand {
        id: CommandId::from_uuid(uuid_col(row, 0, WHAT)?),
        name: col(row, 1, WHAT)?,
        input: col(row, 2, WHAT)?,
        attempt: to_u32(attempts + attempt_offset),
        max_attempts: to_u32(max_attempts),
        timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
        lease,
    })
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    #[test]
    fn the_turn_key_is_fixed_per_table_and_differs_between_tables() {
        assert_eq!(
            super::turn_key("orch_commands"),
            super::turn_key("orch_commands")
        );
        assert_ne!(
            super::turn_key("orch_commands"),
            super::turn_key("other_commands")
        );
    }
}
