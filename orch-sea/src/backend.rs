//! [`Backend`]: which database family a store talks to. The SQL each family needs lives in
//! `sql/dialect.rs` and the per-dialect files of the query folders.

use sea_orm::DbBackend;

/// The database family a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite 3.35 or newer (RETURNING, UPDATE … FROM), in WAL mode.
    Sqlite,
    /// PostgreSQL 12 or newer.
    Postgres,
    /// MySQL 8.0.1+ or MariaDB 10.6+ (SKIP LOCKED).
    MySql,
}

impl Backend {
    /// The backend of a sea-orm connection.
    pub fn of(db: DbBackend) -> Self {
        match db {
            DbBackend::Postgres => Self::Postgres,
            DbBackend::MySql => Self::MySql,
            _ => Self::Sqlite,
        }
    }

    /// A short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}
