//! [`AnyConnection`]: any sea-orm connection or transaction as one object-safe type, the
//! store's [`Store::Tx`](orch_core::store::Store::Tx).
//!
//! sea-orm's `ConnectionTrait` has generic methods, so `dyn ConnectionTrait` does not
//! exist; this trait is its object-safe core, implemented for every `ConnectionTrait` type.
//! `orch`'s `push_in(&txn, …)` takes any `&impl ConnectionTrait` and passes it on as
//! `&dyn AnyConnection`.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

type DbFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 'a>>;

/// A sea-orm connection, pool or transaction, as a trait object.
///
/// Implemented for every type that implements sea-orm's `ConnectionTrait`
/// (`DatabaseConnection`, `DatabaseTransaction`, …); there is no need to implement it.
///
/// # Example
/// ```
/// use orch_sea::AnyConnection;
/// use sea_orm::TransactionTrait;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = orch_sea::SeaStore::connect("sqlite::memory:").await?;
/// let txn = store.connection().begin().await?;
/// let any: &dyn AnyConnection = &txn;
/// assert_eq!(any.database_backend(), sea_orm::DbBackend::Sqlite);
/// # txn.commit().await?; Ok(()) }
/// ```
pub trait AnyConnection: Send + Sync {
    /// The database family.
    fn database_backend(&self) -> DbBackend;
    /// Runs a statement.
    fn execute_statement(&self, stmt: Statement) -> DbFuture<'_, ExecResult>;
    /// Runs SQL text without parameters.
    fn execute_text<'a>(&'a self, sql: &'a str) -> DbFuture<'a, ExecResult>;
    /// Runs a query, returning at most one row.
    fn query_row(&self, stmt: Statement) -> DbFuture<'_, Option<QueryResult>>;
    /// Runs a query, returning every row.
    fn query_rows(&self, stmt: Statement) -> DbFuture<'_, Vec<QueryResult>>;
}

impl<C: ConnectionTrait + Send> AnyConnection for C {
    fn database_backend(&self) -> DbBackend {
        self.get_database_backend()
    }
    fn execute_statement(&self, stmt: Statement) -> DbFuture<'_, ExecResult> {
        self.execute_raw(stmt)
    }
    fn execute_text<'a>(&'a self, sql: &'a str) -> DbFuture<'a, ExecResult> {
        self.execute_unprepared(sql)
    }
    fn query_row(&self, stmt: Statement) -> DbFuture<'_, Option<QueryResult>> {
        self.query_one_raw(stmt)
    }
    fn query_rows(&self, stmt: Statement) -> DbFuture<'_, Vec<QueryResult>> {
        self.query_all_raw(stmt)
    }
}

/// A `&dyn AnyConnection` as a `ConnectionTrait`, for the query functions.
pub(crate) struct Dyn<'a>(pub(crate) &'a dyn AnyConnection);

#[async_trait::async_trait]
impl ConnectionTrait for Dyn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.database_backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_statement(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_text(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_row(stmt).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_rows(stmt).await
    }
}
