//! [`SeaStoreConfig`]: the table prefix (validated) and connection settings.

use std::time::Duration;

use orch_core::ConfigError;

/// The default table prefix: tables are `orch_commands`, `orch_command_errors`,
/// `orch_migrations`.
pub const DEFAULT_TABLE_PREFIX: &str = "orch_";
/// The default pool size for PostgreSQL and MySQL.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// The default pool size for an SQLite file (writers are serialized by SQLite anyway).
pub const DEFAULT_SQLITE_MAX_CONNECTIONS: u32 = 4;
/// The default time to wait for a pooled connection.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default SQLite busy timeout: how long a writer waits for the write lock.
pub const DEFAULT_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on any one statement on orch's connections.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);
/// Default limit on any one lock wait on orch's connections.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle engine on SQLite or MySQL/MariaDB checks for commands another process
/// pushed, by default (PostgreSQL is told by `NOTIFY`).
pub const DEFAULT_WAKE_PROBE: Duration = Duration::from_millis(20);

/// The longest suffix orch appends to the prefix (`command_errors_command`, an index name).
const LONGEST_SUFFIX: usize = "command_errors_command".len();
/// PostgreSQL truncates identifiers past 63 bytes (MySQL refuses past 64).
const IDENTIFIER_BUDGET: usize = 63;

/// Storage settings. Every field documents its default; change them with the `with_*`
/// setters.
///
/// # Example
/// ```
/// let config = orch_sea::SeaStoreConfig::default()
///     .with_table_prefix("billing_")
///     .with_max_connections(Some(20));
/// assert_eq!(config.table_prefix, "billing_");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SeaStoreConfig {
    /// The table prefix: `^[a-z][a-z0-9_]*$`, short enough that every table and index name
    /// fits in 63 bytes. Defaults to [`DEFAULT_TABLE_PREFIX`] (`orch_`).
    pub table_prefix: String,
    /// Pool size. Defaults to 10 ([`DEFAULT_MAX_CONNECTIONS`]), 4 for an SQLite file and 1
    /// for an in-memory SQLite database.
    pub max_connections: Option<u32>,
    /// How long to wait for a pooled connection. Defaults to 10 s.
    pub acquire_timeout: Duration,
    /// Whether to run orch's migrations when connecting. Defaults to true.
    pub migrate: bool,
    /// Whether PostgreSQL inserts send a `NOTIFY` that wakes idle engines elsewhere.
    /// Defaults to true; turn off behind a transaction-mode connection pooler.
    pub notify: bool,
    /// The longest any one statement may run on a connection orch opens, including your
    /// own statements on [`SeaStore::connection`](crate::SeaStore::connection): PostgreSQL
    /// `statement_timeout`, MariaDB `max_statement_time` (MySQL has no equivalent for
    /// writes and keeps its own). `None` leaves the server's setting. Defaults to 5 min
    /// ([`DEFAULT_STATEMENT_TIMEOUT`]), so a stalled statement fails instead of holding a
    /// connection (and a lease's renewal) forever.
    pub statement_timeout: Option<Duration>,
    /// The longest any one lock wait may take on a connection orch opens: PostgreSQL
    /// `lock_timeout`, MySQL/MariaDB `innodb_lock_wait_timeout` (whole seconds, at least 1),
    /// SQLite's busy timeout. `None` leaves the server's setting (SQLite: 10 s). Defaults
    /// to 30 s ([`DEFAULT_LOCK_TIMEOUT`]).
    pub lock_timeout: Option<Duration>,
    /// How often an engine on SQLite or MySQL/MariaDB checks whether another process
    /// committed work for it, so a push from elsewhere starts within about this long
    /// instead of at the next `poll_interval`. The check is one tiny query on a connection
    /// of its own: SQLite's `PRAGMA data_version` (no disk read), MySQL/MariaDB the newest
    /// due time from the due index. `None` turns it off (wake-ups then come from this
    /// process and from polling). Defaults to 20 ms ([`DEFAULT_WAKE_PROBE`]); PostgreSQL
    /// uses `NOTIFY` instead and ignores it.
    pub wake_probe: Option<Duration>,
    /// Whether a command that succeeds is deleted instead of kept as `succeeded`: the
    /// statement that records the success deletes the row (and the error rows of its
    /// earlier attempts), so the table holds only work still to do, commands that failed
    /// for good, and canceled ones. Defaults to false (every command is kept).
    ///
    /// What changes when it is on:
    /// - [`get`](orch_core::Client::get) and [`list`](orch_core::Client::list) no longer
    ///   find a command once it has succeeded, so its output cannot be read back (nor can
    ///   a cron job's successful runs);
    /// - a command pushed with an idempotency key is still kept when it succeeds, so its
    ///   key keeps refusing duplicates (only commands without a key are deleted);
    /// - follow-ups are still inserted with the success, in the same transaction; their
    ///   parent is then gone.
    ///
    /// Fencing is unchanged: only the attempt that holds the lease deletes the row. A
    /// finish whose lease was lost deletes nothing.
    pub delete_succeeded: bool,
    /// Whether claims of every engine on this database take turns (PostgreSQL and
    /// MySQL/MariaDB). Each claim then runs in a short transaction whose first statement
    /// waits for the turn, so the claim reads the table after the claim before it
    /// committed and never passes over rows another claim is taking. The turn is a
    /// transaction-scoped lock: on PostgreSQL an advisory lock keyed on the commands
    /// table, taken in the same round trip as the claim (one simple query: the lock, then
    /// the claim, its values written into its text); on MySQL/MariaDB the row
    /// `orch.commands.claim` of the locks table, locked by the claim's transaction first.
    ///
    /// Worth it for several engine processes on one database. On a 2-core machine four
    /// PostgreSQL processes together drained 0.86–1.01× of what one drains alone with it,
    /// and 0.70–0.87× without; four MariaDB processes 0.84–0.97× with it (each an exact
    /// quarter) and 0.77–0.91× without (shares as uneven as 2 % and 77 %; `BENCHMARKS.md`).
    /// On PostgreSQL it costs a single engine's drain about 7 % at 100 workers (the claim is
    /// parsed and planned each time), nothing measurable at 1,000; on MySQL/MariaDB, whose
    /// claims are transactions anyway, one more statement per claim.
    ///
    /// A client cut off while it claims: on PostgreSQL the server never waits on the
    /// client while the turn is held, so the others are not held up at all; on MariaDB a
    /// claim's transaction that goes quiet is ended by the server after 5 s
    /// (`idle_transaction_timeout`, set on the claims pool's sessions), releasing the turn.
    /// MySQL has no such setting: there a cut-off holder keeps the turn until the server
    /// drops its connection (`wait_timeout`), and the others' claims fail at `lock_timeout`
    /// meanwhile.
    /// Defaults to false; SQLite (one writer at a time anyway) ignores it.
    pub serialize_claims: bool,
}

impl Default for SeaStoreConfig {
    fn default() -> Self {
        Self {
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            max_connections: None,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            migrate: true,
            notify: true,
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
            wake_probe: Some(DEFAULT_WAKE_PROBE),
            delete_succeeded: false,
            serialize_claims: false,
        }
    }
}

impl SeaStoreConfig {
    /// With `table_prefix` set: the table prefix: `^[a-z][a-z0-9_]*$`, short enough that every table and index name.
    #[must_use]
    pub fn with_table_prefix(mut self, value: impl Into<String>) -> Self {
        self.table_prefix = value.into();
        self
    }

    /// With `max_connections` set: pool size.
    #[must_use]
    pub fn with_max_connections(mut self, value: Option<u32>) -> Self {
        self.max_connections = value;
        self
    }

    /// With `acquire_timeout` set: how long to wait for a pooled connection.
    #[must_use]
    pub fn with_acquire_timeout(mut self, value: Duration) -> Self {
        self.acquire_timeout = value;
        self
    }

    /// With `migrate` set: whether to run orch's migrations when connecting.
    #[must_use]
    pub fn with_migrate(mut self, value: bool) -> Self {
        self.migrate = value;
        self
    }

    /// With `notify` set: whether PostgreSQL inserts send a `NOTIFY` that wakes idle engines elsewhere.
    #[must_use]
    pub fn with_notify(mut self, value: bool) -> Self {
        self.notify = value;
        self
    }

    /// With `statement_timeout` set: the longest any one statement may run.
    #[must_use]
    pub fn with_statement_timeout(mut self, value: Option<Duration>) -> Self {
        self.statement_timeout = value;
        self
    }

    /// With `lock_timeout` set: the longest any one lock wait may take.
    #[must_use]
    pub fn with_lock_timeout(mut self, value: Option<Duration>) -> Self {
        self.lock_timeout = value;
        self
    }

    /// With `wake_probe` set: how often an idle engine on SQLite or MySQL/MariaDB checks
    /// for work another process committed (`None`: never; polling only).
    #[must_use]
    pub fn with_wake_probe(mut self, value: Option<Duration>) -> Self {
        self.wake_probe = value;
        self
    }

    /// With `delete_succeeded` set: whether a command that succeeds (and has no idempotency
    /// key) is deleted instead of kept.
    ///
    /// # Example
    /// ```
    /// use orch_sea::SeaStoreConfig;
    ///
    /// // A queue that keeps only work to do and commands that failed for good.
    /// let config = SeaStoreConfig::default().with_delete_succeeded(true);
    /// assert!(config.delete_succeeded);
    /// ```
    #[must_use]
    pub fn with_delete_succeeded(mut self, value: bool) -> Self {
        self.delete_succeeded = value;
        self
    }

    /// With `serialize_claims` set: whether claims of every engine on this PostgreSQL or
    /// MySQL/MariaDB database take turns (for several engine processes on one database).
    ///
    /// # Example
    /// ```
    /// use orch_sea::SeaStoreConfig;
    ///
    /// // Four engine processes share this database.
    /// let config = SeaStoreConfig::default().with_serialize_claims(true);
    /// assert!(config.serialize_claims);
    /// ```
    #[must_use]
    pub fn with_serialize_claims(mut self, value: bool) -> Self {
        self.serialize_claims = value;
        self
    }
}

/// Checks a table prefix: lowercase ASCII letters, digits and `_`, starting with a letter,
/// and short enough for every table and index name orch creates.
///
/// # Example
/// ```
/// assert!(orch_sea::validate_table_prefix("orch_").is_ok());
/// assert!(orch_sea::validate_table_prefix("Orch;drop").is_err());
/// ```
pub fn validate_table_prefix(prefix: &str) -> Result<(), ConfigError> {
    let reason = if prefix.is_empty() {
        Some("must not be empty".to_owned())
    } else if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a lowercase ASCII letter".to_owned())
    } else if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!(
            "may contain only lowercase ASCII letters, digits and `_`, found {bad:?}"
        ))
    } else if prefix.len() + LONGEST_SUFFIX > IDENTIFIER_BUDGET {
        Some(format!(
            "is {} bytes; at most {} fit, so that every table and index name stays within {IDENTIFIER_BUDGET} bytes",
            prefix.len(),
            IDENTIFIER_BUDGET - LONGEST_SUFFIX
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ConfigError::invalid(
            "table_prefix",
            format!("{prefix:?} {reason}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::validate_table_prefix as check;

    #[test]
    fn accepts_plain_prefixes() {
        for ok in ["orch_", "a", "tenant1_orch_", "x_y_z"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        assert!(check(&"a".repeat(41)).is_ok());
    }

    #[test]
    fn refuses_hostile_prefixes() {
        for bad in [
            "",
            "1abc",
            "_x",
            "Orch_",
            "orch-",
            "orch.",
            "or\"ch",
            "or`ch",
            "orch;drop table x;",
            "ørch",
            "orch ",
            "select", // reserved words are fine only because they are quoted…
        ] {
            if bad == "select" {
                assert!(check(bad).is_ok());
                continue;
            }
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check(&"a".repeat(42)).is_err());
    }
}
