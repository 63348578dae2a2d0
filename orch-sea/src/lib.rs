//! # orch-sea
//!
//! orch's storage on sea-orm: [`SeaStore`] implements orch-core's `Store` for SQLite (the
//! embedded default), PostgreSQL and MySQL/MariaDB, chosen by URL.
//!
//! - **Schema.** Four tables per prefix (`{prefix}commands`, `{prefix}command_errors`,
//!   `{prefix}locks`, `{prefix}migrations`), created by orch's own migrations, under a lock
//!   so instances starting together are safe. The prefix is validated (`^[a-z][a-z0-9_]*$`, within the
//!   63-byte identifier budget); no configuration text ever reaches SQL unvalidated.
//! - **Time.** Every timestamp is stored as integer microseconds since the Unix epoch (UTC)
//!   and computed from the database's clock, identically on all three backends.
//! - **Claims.** Each reads the claim index once per served `(name, target)` pair, merged
//!   in due order, so rows no engine serves cost it nothing. PostgreSQL: one CTE locking
//!   rows as it reaches them (`FOR UPDATE SKIP LOCKED`) + `UPDATE … RETURNING`;
//!   MySQL/MariaDB: a short `READ COMMITTED` transaction that locks only the rows it takes,
//!   then a fenced `UPDATE`; SQLite: `BEGIN IMMEDIATE` + `UPDATE … RETURNING` in WAL mode.
//! - **Wake-ups.** PostgreSQL inserts of due commands send a payload-free `NOTIFY`.
//! - **Locks.** PostgreSQL advisory locks and MySQL/MariaDB `GET_LOCK` on connections of
//!   their own, an SQLite lease row; fencing tokens in `{prefix}locks` on all three.
//! - **Layout.** One folder per face (`commands/`, `locks/`, `cron/`), `schema/` for migrations and
//!   `sql/` for the statement builder and dialect pieces: no SQL text exists elsewhere.

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("orch-sea needs at least one backend feature: `sqlite`, `postgres` or `mysql`");

mod backend;
mod commands;
mod config;
mod conn;
mod connect;
mod cron;
mod error;
mod inbox;
#[cfg(feature = "postgres")]
mod listen;
mod locks;
mod notifier;
mod outbox;
mod schema;
mod sql;
mod store;
mod tables;
mod turn;
mod watch;

pub use backend::Backend;
pub use config::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_SQLITE_BUSY_TIMEOUT, DEFAULT_SQLITE_MAX_CONNECTIONS, DEFAULT_STATEMENT_TIMEOUT,
    DEFAULT_TABLE_PREFIX, DEFAULT_WAKE_PROBE, SeaStoreConfig, validate_table_prefix,
};
pub use conn::AnyConnection;
pub use connect::redact;
pub use store::{SeaStore, SeaStoreError};
