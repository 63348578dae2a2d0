//! The due rows a claim may take, read one served `(name, target)` pair at a time.
//!
//! Every backend has an index on the pending rows that leads with `name` and `target` and
//! then orders by `run_at, id` (`{prefix}commands_claim`, schema version 7, partial on
//! pending rows; on MySQL/MariaDB `{prefix}commands_pending`, schema version 9, on a virtual
//! column holding the name of pending rows only, with `id` as the implicit primary-key
//! suffix; see `mysql.rs`). A claim reads it once per pair this engine serves: one index
//! seek per pair, then the pair's rows in due order, merged across pairs by `run_at, id`. Rows of names or targets no engine here
//! serves are never read, however many there are, so they cannot slow a claim or (on
//! MySQL/MariaDB) be locked by one.

use orch_core::store::ClaimParams;

use crate::sql::Sql;

/// The served `(name, target)` pairs, in a stable order (the statement text, and so its
/// prepared form, stays the same from one claim to the next).
pub(super) fn pairs(params: &ClaimParams) -> Vec<(&str, &str)> {
    params
        .names
        .iter()
        .flat_map(|name| {
            params
                .targets
                .iter()
                .map(move |target| (name.as_str(), target.as_str()))
        })
        .collect()
}

/// How a pair's pending rows are told by name on PostgreSQL and SQLite, whose claim index
/// is partial on `status = 'pending'`.
pub(super) const PENDING_BY_STATUS: &str = "status = 'pending' AND name";

/// `SELECT {columns} FROM {from} WHERE {pending} = ? AND target = ? AND run_at <= now`: one
/// pair's due rows, a range of the claim index. `pending` is the test that holds for the
/// pair's name while a row is pending: [`PENDING_BY_STATUS`], or on MySQL/MariaDB the
/// virtual column `pending_name` (see `mysql.rs`). `from` is the table, with an index hint
/// where the backend takes one.
pub(super) fn arm(
    sql: &mut Sql,
    columns: &str,
    from: &str,
    pending: &str,
    (name, target): (&str, &str),
) {
    sql.push("SELECT ")
        .push(columns)
        .push(" FROM ")
        .push(from)
        .push(" WHERE ")
        .push(pending)
        .push(" = ")
        .bind(name.to_owned())
        .push(" AND target = ")
        .bind(target.to_owned())
        .push(" AND run_at <= ")
        .now();
}

/// `part UNION ALL part …`: `part` writes the part of one item (a pair).
pub(super) fn union_all<T: Copy>(sql: &mut Sql, items: &[T], mut part: impl FnMut(&mut Sql, T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        part(sql, *item);
    }
}
