//! The statement builder and the SQL pieces every query folder shares.
//!
//! orch's SQL text lives only in the query folders: `commands/` (the command life cycle),
//! `locks/` (named locks), `schema/` (migrations) and this one (the dialect pieces in
//! `dialect.rs`, the server's statement bound in `limits.rs`). Identifiers come only from validated table prefixes; every value is bound.

pub(crate) mod dialect;
pub(crate) mod limits;
pub(crate) mod values;

pub(crate) use dialect::SqlType;
pub(crate) use values::{begin_write, col, id_value, micros, millis, time, to_u32, uuid_col};

use sea_orm::{Statement, Value};

use crate::backend::Backend;

/// A statement under construction. Identifiers come only from validated table names;
/// every value is bound.
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            backend,
            text: String::with_capacity(256),
            values: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `column = 'status'` for a statement that finds its rows by primary key and
    /// only checks their status, written so that no index partial on that status can serve
    /// it (the claim, lease and outbox indexes are partial on `pending`, `running` and
    /// `processing`).
    ///
    /// PostgreSQL estimates a partial index's rows from the table's last `ANALYZE`. Taken
    /// while nearly every row was pending (a backlog just pushed), it counts no `running`
    /// row, so the planner drove a finish from the lease index, "one row", and probed the
    /// whole batch once per running row: a finish of 500 beside 4,000 running rows took
    /// over a second instead of 5 ms, and a lease renewal or a cancel by id read every
    /// running or pending row. SQLite did the same once `ANALYZE` had run. Hidden in a
    /// `CASE` (PostgreSQL) or behind a unary `+` (SQLite's way of keeping a term off
    /// indexes; a `CASE` there cost a no-op drain a quarter of its rate), the check proves
    /// no index predicate and has no statistics to be misjudged by: the rows are found by
    /// primary key and the status is checked on each, and rechecked on a row's newest
    /// version when a concurrent update got there first, as a plain comparison is.
    /// MySQL/MariaDB have no partial indexes and estimate from the index itself: plain.
    pub(crate) fn status_is(&mut self, column: &str, status: &str) -> &mut Self {
        let check = match self.backend {
            Backend::Postgres => format!("(CASE WHEN {column} = '{status}' THEN 1 END) = 1"),
            Backend::Sqlite => format!("+{column} = '{status}'"),
            Backend::MySql => format!("{column} = '{status}'"),
        };
        self.push(&check)
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        let ph = self.backend.placeholder(self.values.len());
        self.text.push_str(&ph);
        self
    }

    /// Appends a typed placeholder (for `VALUES` rows) bound to `value`.
    pub(crate) fn bind_typed(&mut self, value: impl Into<Value>, ty: SqlType) -> &mut Self {
        self.values.push(value.into());
        let ph = self.backend.placeholder(self.values.len());
        let typed = self.backend.cast(&ph, ty);
        self.text.push_str(&typed);
        self
    }

    /// Appends `(?, ?, …)` for a list of values.
    pub(crate) fn bind_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    /// Appends the database clock expression.
    pub(crate) fn now(&mut self) -> &mut Self {
        self.text.push_str(self.backend.now_us());
        self
    }

    pub(crate) fn build(self) -> Statement {
        Statement::from_sql_and_values(
            match self.backend {
                Backend::Sqlite => sea_orm::DbBackend::Sqlite,
                Backend::Postgres => sea_orm::DbBackend::Postgres,
                Backend::MySql => sea_orm::DbBackend::MySql,
            },
            self.text,
            self.values,
        )
    }
}
