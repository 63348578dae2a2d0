//! A hook for tests and tools that look inside a finish: its plan. Not for applications.

use orch_core::store::{Finish, StoreError};

use super::{Fence, Row, returning_statement};
use crate::backend::Backend;
use crate::store::SeaStore;

impl SeaStore {
    /// For tests and tools, not applications: the plan of the statement that records
    /// `batch` (workers finishing their own attempts), or `None` on MySQL/MariaDB (whose
    /// finish is several statements; count `Handler_read%` around a finish there instead).
    ///
    /// PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`, so the statement really runs
    /// (rows read, buffers touched), in a transaction rolled back afterwards; with
    /// `delete_succeeded` on, the statement that deletes what succeeded. SQLite: the
    /// `EXPLAIN QUERY PLAN` rows of the updating statement, one per line. Nothing is
    /// recorded either way. `batch` must not be empty.
    #[doc(hidden)]
    pub async fn explain_finish(&self, batch: &[Finish]) -> Result<Option<String>, StoreError> {
        let i = self.inner();
        if i.backend == Backend::MySql || batch.is_empty() {
            return Ok(None);
        }
        let rows: Vec<Row> = batch.iter().map(|f| Row::of(f, Fence::Lease)).collect();
        let delete = i.backend == Backend::Postgres && super::deletes(i, &rows);
        let statement = returning_statement(i.backend, &i.tables, &rows, delete).build();
        let txn = crate::sql::begin_write(&i.db, "explain a finish").await?;
        crate::commands::explain::plan(txn, i.backend, statement, "explain a finish").await
    }
}
