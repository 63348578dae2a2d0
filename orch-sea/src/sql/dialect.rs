//! The SQL pieces in which the three dialects differ, used by every query folder.

use crate::backend::Backend;

impl Backend {
    /// Quotes an identifier that was validated to `^[a-z][a-z0-9_]*$`.
    pub(crate) fn quote(self, ident: &str) -> String {
        match self {
            Self::MySql => format!("`{ident}`"),
            Self::Sqlite | Self::Postgres => format!("\"{ident}\""),
        }
    }

    /// The `n`-th (1-based) bind placeholder.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("${n}"),
            Self::Sqlite | Self::MySql => "?".to_owned(),
        }
    }

    /// The database's clock as integer microseconds since the Unix epoch. Every due time,
    /// lease and timestamp is compared against this, never the application's clock.
    /// (PostgreSQL: the statement's start, a stable value the planner can use in index
    /// conditions, and current even inside a long transaction.)
    pub(crate) const fn now_us(self) -> &'static str {
        match self {
            Self::Postgres => "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint",
            Self::MySql => "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))",
            Self::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
        }
    }

    /// The smaller of two values.
    pub(crate) const fn least(self) -> &'static str {
        match self {
            Self::Sqlite => "MIN",
            Self::Postgres | Self::MySql => "LEAST",
        }
    }

    /// A typed placeholder inside a `VALUES` row (PostgreSQL cannot infer the types there).
    pub(crate) fn cast(self, placeholder: &str, sql_type: SqlType) -> String {
        match self {
            Self::Postgres => format!("{placeholder}::{}", sql_type.postgres()),
            Self::Sqlite | Self::MySql => placeholder.to_owned(),
        }
    }
}

/// Column types used in typed placeholders.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SqlType {
    Uuid,
    Text,
    BigInt,
    Int,
}

impl SqlType {
    const fn postgres(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Text => "text",
            Self::BigInt => "bigint",
            Self::Int => "integer",
        }
    }
}
