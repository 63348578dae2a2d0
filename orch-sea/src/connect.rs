//! Opens a sea-orm pool from a URL with settings that suit a queue: WAL and a busy timeout
//! for SQLite, no per-statement logging.

use orch_core::ConfigError;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

#[cfg(feature = "sqlite")]
use crate::config::DEFAULT_SQLITE_BUSY_TIMEOUT;
use crate::config::{DEFAULT_MAX_CONNECTIONS, DEFAULT_SQLITE_MAX_CONNECTIONS, SeaStoreConfig};
use crate::error::db_error;
use crate::store::SeaStoreError;

/// The schemes orch understands.
const SCHEMES: [&str; 5] = [
    "sqlite:",
    "postgres://",
    "postgresql://",
    "mysql://",
    "mariadb://",
];

/// What a pool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    /// Everything: pushes, finishes, reads, services, the application's own statements.
    Main,
    /// Claims only, on the servers: a few connections whose session settings are the
    /// claim's own. On PostgreSQL a claim is then one autocommitted statement, one round
    /// trip (see [`CLAIM_SETTINGS`]); on MySQL/MariaDB the sessions are `READ COMMITTED`,
    /// so a claim's transaction needs no statement to set it.
    Claims,
}

/// A claims-pool connection idle this long is tested (pinged) before it is handed out, and
/// replaced if the server dropped it. One in steady use is handed out as it is: a ping is a
/// round trip, and before every claim it cost a drain at the defaults about a tenth. A
/// claim that meets a dead connection fails, and the engine claims again a moment later on
/// another (see the producer's first error pause). The main pool keeps sqlx's test on every
/// checkout: the application's statements and the engine's finishes go through it, and
/// after the server dropped its connections (a restart, connections killed) none of them
/// fails for it.
const CLAIMS_PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Connections of the claims pool: one engine claims one batch at a time.
pub(crate) const CLAIM_CONNECTIONS: u32 = 4;

/// The planner settings every PostgreSQL claim runs with: on the claims pool's sessions
/// (see [`CLAIM_SETTINGS`]), or `SET LOCAL` in a claim's own transaction where there is no
/// such pool. Right after a burst of inserts the table's statistics still say "almost
/// empty", and the planner then prefers bitmap scans plus a sort of the whole backlog on
/// every claim (cost growing with the backlog): the claim must walk the claim index in order
/// (`Merge Append` of the pairs' index scans). Once a table of some tens of thousands of rows
/// is analyzed, the planner prices a hash join over a scan of the whole table below a claim's
/// per-row TID lookups, so every claim would read every row the table keeps: a claim joins
/// by nested loops only. Plans are small: a disabled node that still shows up must not make
/// the planner compile it (JIT costs tens of milliseconds). With the plan's shape fixed by
/// these settings, its values cannot change it, so a claim runs its prepared statement's
/// generic plan instead of planning again on every call (PostgreSQL otherwise compares the
/// two and kept replanning: a fifth of a millisecond per claim, a tenth of a drain at the
/// defaults).
pub(crate) const CLAIM_PLANNER_SETTINGS: [(&str, &str); 6] = [
    ("enable_bitmapscan", "off"),
    ("enable_sort", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
    ("jit", "off"),
    ("plan_cache_mode", "force_generic_plan"),
];

/// Session settings of the claims pool: [`CLAIM_PLANNER_SETTINGS`], and commits that need
/// not wait for their WAL flush: if the server crashes before the flush, the claim is lost
/// and its rows are still `pending`, while a finish of a claimed row (a normal commit)
/// flushes the claim's WAL before its own, so no recorded result ever rests on a lost claim.
#[cfg(feature = "postgres")]
const CLAIM_SETTINGS: [(&str, &str); 1] = [("synchronous_commit", "off")];

pub(crate) async fn connect(
    url: &str,
    config: &SeaStoreConfig,
) -> Result<DatabaseConnection, SeaStoreError> {
    open(url, config, Pool::Main).await
}

/// Opens a pool for `purpose` (see [`Pool`]).
pub(crate) async fn open(
    url: &str,
    config: &SeaStoreConfig,
    purpose: Pool,
) -> Result<DatabaseConnection, SeaStoreError> {
    if !SCHEMES.iter().any(|s| url.starts_with(s)) {
        return Err(ConfigError::invalid(
            "database",
            format!(
                "unsupported database URL {:?}; expected one starting with sqlite:, postgres:// or mysql://",
                redact(url)
            ),
        )
        .into());
    }
    let url = url.replacen("mariadb://", "mysql://", 1);
    let sqlite = url.starts_with("sqlite:");
    let memory = sqlite && (url.contains(":memory:") || url.contains("mode=memory"));
    let max = if purpose == Pool::Claims {
        CLAIM_CONNECTIONS
    } else {
        config.max_connections.unwrap_or(if memory {
            1
        } else if sqlite {
            DEFAULT_SQLITE_MAX_CONNECTIONS
        } else {
            DEFAULT_MAX_CONNECTIONS
        })
    };
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(max)
        .min_connections(if memory { 1 } else { 0 })
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false);
    if purpose == Pool::Claims {
        options.test_before_acquire_if_idle_for(CLAIMS_PING_AFTER_IDLE);
    }
    if memory {
        // Every connection to `:memory:` is a different database: keep the one forever.
        options.idle_timeout(None).max_lifetime(None);
    }
    #[cfg(feature = "sqlite")]
    if sqlite {
        let busy = config.lock_timeout.unwrap_or(DEFAULT_SQLITE_BUSY_TIMEOUT);
        options.map_sqlx_sqlite_opts(move |opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
        });
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres") {
        let mut settings = postgres_settings(config);
        if purpose == Pool::Claims {
            settings.extend(
                CLAIM_PLANNER_SETTINGS
                    .into_iter()
                    .chain(CLAIM_SETTINGS)
                    .map(|(name, value)| (name, value.to_owned())),
            );
        }
        options.map_sqlx_postgres_opts(move |opts| opts.options(settings.clone()));
    }
    #[cfg(feature = "mysql")]
    if url.starts_with("mysql") {
        let mut statements = mysql_settings(config);
        if purpose == Pool::Claims {
            // A claim's transaction is `READ COMMITTED` (no gap locks, see
            // `commands/claim/mysql.rs`); set once per connection instead of per claim.
            statements.push((
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".to_owned(),
                true,
            ));
            if config.serialize_claims {
                // A claim cut off while holding the turn must not hold up the others'
                // turns for long: MariaDB ends a transaction idle this long (MySQL has no
                // such setting and refuses it; there its session's end frees the turn).
                statements.push((
                    format!(
                        "SET SESSION idle_transaction_timeout = {}",
                        crate::commands::claim::TURN_IDLE_LIMIT.as_secs()
                    ),
                    false,
                ));
            }
        }
        options.map_sqlx_mysql_pool_opts(move |pool| {
            let statements = statements.clone();
            pool.after_connect(move |conn, _| {
                let statements = statements.clone();
                Box::pin(async move {
                    use sea_orm::sqlx::{self, AssertSqlSafe};
                    for (statement, required) in statements {
                        let done = sqlx::query(AssertSqlSafe(statement))
                            .execute(&mut *conn)
                            .await;
                        // `max_statement_time` is MariaDB's; MySQL refuses it: skip it there.
                        if let Err(error) = done
                            && required
                        {
                            return Err(error);
                        }
                    }
                    Ok(())
                })
            })
        });
    }
    // Instances opening one fresh SQLite file together race to switch it to WAL, which
    // can fail at once with "database is locked" whatever the busy timeout: wait and
    // retry within the busy timeout, as any other writer would.
    let started = tokio::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(10);
    loop {
        match Database::connect(options.clone()).await {
            Ok(db) => return Ok(db),
            Err(e) => {
                let busy = sqlite
                    && is_sqlite_busy(&e)
                    && started.elapsed() < crate::config::DEFAULT_SQLITE_BUSY_TIMEOUT;
                if !busy {
                    return Err(SeaStoreError::Store(db_error(
                        &format!("connect to {}", redact(&url)),
                        e,
                    )));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
        }
    }
}

/// PostgreSQL session settings sent at connect time (milliseconds).
#[cfg(feature = "postgres")]
fn postgres_settings(config: &SeaStoreConfig) -> Vec<(&'static str, String)> {
    let mut settings = Vec::new();
    if let Some(limit) = config.statement_timeout {
        settings.push(("statement_timeout", limit.as_millis().max(1).to_string()));
    }
    if let Some(limit) = config.lock_timeout {
        settings.push(("lock_timeout", limit.as_millis().max(1).to_string()));
    }
    settings
}

/// MySQL/MariaDB statements run on every new connection, each with whether it must
/// succeed.
#[cfg(feature = "mysql")]
fn mysql_settings(config: &SeaStoreConfig) -> Vec<(String, bool)> {
    let mut statements = Vec::new();
    if let Some(limit) = config.lock_timeout {
        statements.push((
            format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
                limit.as_secs().max(1)
            ),
            true,
        ));
    }
    if let Some(limit) = config.statement_timeout {
        statements.push((
            format!(
                "SET SESSION max_statement_time = {:.3}",
                limit.as_secs_f64().max(0.001)
            ),
            false,
        ));
    }
    statements
}

/// Whether a connection failed on SQLite's "database is locked" (busy, code 5).
fn is_sqlite_busy(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db
                .code()
                .and_then(|code| code.parse::<u32>().ok())
                .is_some_and(|code| code & 0xff == 5),
            _ => false,
        },
        _ => false,
    }
}

/// The URL with any password replaced by `***`, for errors and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }
}
