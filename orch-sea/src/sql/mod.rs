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

    /// PostgreSQL: the statement's text with every value written in as a literal, for the
    /// simple query protocol, which runs several statements in one round trip but binds
    /// nothing. Integers and UUIDs are written as such; text as an escape string (`E'…'`,
    /// backslashes and quotes doubled), which reads the same whatever
    /// `standard_conforming_strings` says. `None` for any other value, and for text holding
    /// a NUL (no PostgreSQL text can). Every `$` and digits in the text is taken for a
    /// placeholder: the statement's own text must hold no such literal.
    #[cfg(feature = "postgres")]
    pub(crate) fn into_literal_text(self) -> Option<String> {
        debug_assert_eq!(self.backend, Backend::Postgres);
        let mut out = String::with_capacity(self.text.len() + 40 * self.values.len());
        let mut rest = self.text.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                out.push('$');
                rest = after;
                continue;
            }
            let index: usize = after[..digits].parse().ok()?;
            out.push_str(&literal(self.values.get(index.checked_sub(1)?)?)?);
            rest = &after[digits..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// PostgreSQL: the statement's text with its placeholders, for `PREPARE`, and its values
    /// written as literals (as [`Sql::into_literal_text`] writes them), comma-separated, for
    /// the argument list of an `EXECUTE` sent through the simple query protocol. `None` as
    /// for [`Sql::into_literal_text`].
    #[cfg(feature = "postgres")]
    pub(crate) fn into_prepared_parts(self) -> Option<(String, String)> {
        debug_assert_eq!(self.backend, Backend::Postgres);
        let arguments = self
            .values
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()?
            .join(", ");
        Some((self.text, arguments))
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

/// A PostgreSQL literal of `value` (see [`Sql::into_literal_text`]).
#[cfg(feature = "postgres")]
fn literal(value: &Value) -> Option<String> {
    Some(match value {
        Value::BigInt(Some(v)) => v.to_string(),
        Value::Int(Some(v)) => v.to_string(),
        Value::Uuid(Some(v)) => format!("'{v}'::uuid"),
        Value::String(Some(v)) if !v.contains('\0') => {
            format!("E'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
        }
        _ => return None,
    })
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::{Backend, Sql};

    #[test]
    fn literal_text_writes_each_value_once_and_escapes_text() {
        let id = uuid::Uuid::nil();
        let mut sql = Sql::new(Backend::Postgres);
        sql.push("SELECT ")
            .bind(7_i64)
            .push(", ")
            .bind(id)
            .push(", ")
            .bind("it's a \\ $1".to_owned())
            .push(" WHERE n IN ")
            .bind_list([1_i64, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            sql.into_literal_text().as_deref(),
            Some(
                "SELECT 7, '00000000-0000-0000-0000-000000000000'::uuid, E'it''s a \\\\ $1' \
                 WHERE n IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"
            )
        );
    }

    #[test]
    fn literal_text_refuses_a_nul_and_unknown_values() {
        let mut sql = Sql::new(Backend::Postgres);
        sql.push("SELECT ").bind("a\0b".to_owned());
        assert_eq!(sql.into_literal_text(), None);
        let mut sql = Sql::new(Backend::Postgres);
        sql.push("SELECT ").bind(true);
        assert_eq!(sql.into_literal_text(), None);
    }
}
