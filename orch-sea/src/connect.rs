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

pub(crate) async fn connect(
    url: &str,
    config: &SeaStoreConfig,
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
    let max = config.max_connections.unwrap_or(if memory {
        1
    } else if sqlite {
        DEFAULT_SQLITE_MAX_CONNECTIONS
    } else {
        DEFAULT_MAX_CONNECTIONS
    });
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(max)
        .min_connections(if memory { 1 } else { 0 })
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false);
    if memory {
        // Every connection to `:memory:` is a different database: keep the one forever.
        options.idle_timeout(None).max_lifetime(None);
    }
    #[cfg(feature = "sqlite")]
    if sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(DEFAULT_SQLITE_BUSY_TIMEOUT)
        });
    }
    Database::connect(options)
        .await
        .map_err(|e| SeaStoreError::Store(db_error(&format!("connect to {}", redact(&url)), e)))
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
