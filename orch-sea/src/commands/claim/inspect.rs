//! Hooks for tests and tools that look inside a claim: its plan, and a claim whose
//! transaction stays open. Both run the claim's own statements; neither is for
//! applications.

use orch_core::store::{ClaimParams, ClaimedCommand, StoreError};
use sea_orm::DatabaseTransaction;

use super::{begin, claim_in, returning_statement};
use crate::backend::Backend;
use crate::store::SeaStore;

const WHAT: &str = "explain a claim";

impl SeaStore {
    /// For tests and tools, not applications: the plan of the statement a claim with
    /// `params` runs, or `None` on MySQL/MariaDB (whose claim is several statements; count
    /// `Handler_read%` around a claim there instead).
    ///
    /// PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`, so the claim really runs (rows
    /// read, buffers touched), in the claim's own transaction and settings, rolled back, and
    /// under its generic plan, as the engine's claims run it (prepared, then explained as
    /// `EXECUTE`).
    /// SQLite: the `EXPLAIN QUERY PLAN` rows, one per line. Nothing is claimed either way.
    /// `params` must name at least one name and one target.
    #[doc(hidden)]
    pub async fn explain_claim(&self, params: &ClaimParams) -> Result<Option<String>, StoreError> {
        let i = self.inner();
        if i.backend == Backend::MySql {
            return Ok(None);
        }
        let claim = returning_statement(i.backend, &i.tables, params, i64::MIN);
        let txn = begin(&i.db, i.backend).await?;
        #[cfg(feature = "postgres")]
        if i.backend == Backend::Postgres {
            let parts = claim
                .into_prepared_parts()
                .ok_or_else(super::nul_in_claim)?;
            return crate::commands::explain::generic_plan(txn, parts, WHAT)
                .await
                .map(Some);
        }
        crate::commands::explain::plan(txn, i.backend, claim.build(), WHAT).await
    }

    /// For tests, not applications: runs a claim exactly as the engine's does (same
    /// transaction settings, same statements) but returns before committing, with its
    /// transaction still open and its rows still locked, to show what an open claim
    /// blocks. Dropping the transaction rolls the claim back. Rows that cannot be decoded
    /// are left out of the result.
    #[doc(hidden)]
    pub async fn claim_uncommitted(
        &self,
        params: &ClaimParams,
    ) -> Result<(DatabaseTransaction, Vec<ClaimedCommand>), StoreError> {
        let i = self.inner();
        let txn = begin(&i.db, i.backend).await?;
        let claimed = claim_in(&txn, i.backend, &i.tables, params, i64::MIN).await?;
        // Rows that cannot be decoded are left out (only a committed claim records them).
        Ok((txn, claimed.commands))
    }
}
