//! [`SeaStore`]: orch's [`Store`] on a sea-orm connection. Thin: every statement lives in
//! `queries/`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orch_core::store::{
    CancelOutcome, CancelParams, ClaimParams, ClaimedCommand, CommandRecord, Finish, InsertCommand,
    Inserted, LeaseRenewal, ListFilter, Store, StoreError, StoreFuture,
};
use orch_core::{CommandId, ConfigError};
use sea_orm::{ConnectionTrait, DatabaseConnection, IsolationLevel, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::config::{SeaStoreConfig, validate_table_prefix};
use crate::connect::connect;
use crate::queries;
use crate::tables::Tables;

/// Errors from building a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeaStoreError {
    /// The configuration or URL is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SeaStoreError> for orch_core::Error {
    fn from(e: SeaStoreError) -> Self {
        match e {
            SeaStoreError::Config(e) => e.into(),
            SeaStoreError::Store(e) => e.into(),
        }
    }
}

/// orch's storage on sea-orm: SQLite, PostgreSQL or MySQL/MariaDB, chosen by URL.
///
/// # Example
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orch_sea::SeaStoreError> {
/// let store = orch_sea::SeaStore::connect("sqlite::memory:").await?;
/// assert_eq!(store.backend().name(), "sqlite");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SeaStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    backend: Backend,
    tables: Tables,
    config: SeaStoreConfig,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    url: Option<String>,
}

impl std::fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaStore")
            .field("backend", &self.inner.backend)
            .field("prefix", &self.inner.tables.prefix)
            .finish_non_exhaustive()
    }
}

impl SeaStore {
    /// Connects by URL (`sqlite://…`, `postgres://…`, `mysql://…`) with default settings
    /// and runs orch's migrations.
    pub async fn connect(url: &str) -> Result<Self, SeaStoreError> {
        Self::connect_with(url, SeaStoreConfig::default()).await
    }

    /// Connects by URL with explicit settings.
    pub async fn connect_with(url: &str, config: SeaStoreConfig) -> Result<Self, SeaStoreError> {
        validate_table_prefix(&config.table_prefix)?;
        let db = connect(url, &config).await?;
        Self::build(db, config, Some(url.to_owned())).await
    }

    /// Uses an existing sea-orm connection (for example the application's own pool).
    /// PostgreSQL wake-ups then hold one of its connections for `LISTEN`.
    pub async fn from_connection(
        db: DatabaseConnection,
        config: SeaStoreConfig,
    ) -> Result<Self, SeaStoreError> {
        validate_table_prefix(&config.table_prefix)?;
        Self::build(db, config, None).await
    }

    async fn build(
        db: DatabaseConnection,
        config: SeaStoreConfig,
        url: Option<String>,
    ) -> Result<Self, SeaStoreError> {
        let backend = Backend::of(db.get_database_backend());
        let tables = Tables::new(backend, &config.table_prefix);
        let store = Self {
            inner: Arc::new(Inner {
                db,
                backend,
                tables,
                config,
                url,
            }),
        };
        if store.inner.config.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies orch's migrations not yet applied; returns the versions applied now. Safe to
    /// run from several instances at once.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        crate::migrate::run(&self.inner.db, self.inner.backend, &self.inner.tables).await
    }

    /// Drops every orch table of this prefix. Destroys data: for tests and tools.
    pub async fn drop_tables(&self) -> Result<(), StoreError> {
        crate::migrate::drop_all(&self.inner.db, &self.inner.tables).await
    }

    /// The backend family.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The sea-orm connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The table prefix.
    pub fn table_prefix(&self) -> &str {
        &self.inner.tables.prefix
    }

    /// The quoted name of the commands table, for tests and tools that inspect it.
    pub fn commands_table(&self) -> &str {
        &self.inner.tables.commands
    }

    /// Inserts commands through `conn`: a pool, or the caller's own transaction, so the
    /// commands exist exactly when that transaction commits.
    pub async fn insert_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        commands: &[InsertCommand],
    ) -> Result<Vec<Inserted>, StoreError> {
        queries::insert::insert(
            conn,
            self.inner.backend,
            &self.inner.tables,
            self.notify(),
            commands,
        )
        .await
    }

    fn notify(&self) -> bool {
        self.inner.config.notify && self.inner.backend == Backend::Postgres
    }
}

impl Store for SeaStore {
    fn backend(&self) -> &'static str {
        self.inner.backend.name()
    }

    fn insert<'a>(&'a self, commands: &'a [InsertCommand]) -> StoreFuture<'a, Vec<Inserted>> {
        Box::pin(self.insert_in(&self.inner.db, commands))
    }

    fn claim<'a>(&'a self, params: &'a ClaimParams) -> StoreFuture<'a, Vec<ClaimedCommand>> {
        let i = &self.inner;
        Box::pin(queries::claim::claim(&i.db, i.backend, &i.tables, params))
    }

    fn finish<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>> {
        let i = &self.inner;
        Box::pin(queries::finish::finish(
            &i.db,
            i.backend,
            &i.tables,
            self.notify(),
            batch,
        ))
    }

    fn renew<'a>(&'a self, leases: &'a [LeaseRenewal]) -> StoreFuture<'a, Vec<bool>> {
        let i = &self.inner;
        Box::pin(queries::renew::renew(&i.db, i.backend, &i.tables, leases))
    }

    fn expired<'a>(&'a self, limit: u32) -> StoreFuture<'a, Vec<ClaimedCommand>> {
        let i = &self.inner;
        Box::pin(queries::read::expired(&i.db, i.backend, &i.tables, limit))
    }

    fn cancel<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, CancelOutcome> {
        let i = &self.inner;
        Box::pin(queries::cancel::cancel(
            &i.db,
            i.backend,
            &i.tables,
            self.notify(),
            params,
        ))
    }

    fn get(&self, id: CommandId) -> StoreFuture<'_, Option<CommandRecord>> {
        let i = &self.inner;
        Box::pin(async move {
            // The row and its errors come from one snapshot, so a record never shows an
            // attempt's error without the attempt (or the other way round).
            let txn =
                i.db.begin_with_config(Some(IsolationLevel::RepeatableRead), None)
                    .await
                    .map_err(|e| crate::error::db_error("read a command", e))?;
            let record = queries::read::get(&txn, i.backend, &i.tables, id).await?;
            txn.commit()
                .await
                .map_err(|e| crate::error::db_error("read a command", e))?;
            Ok(record)
        })
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> StoreFuture<'a, Vec<CommandRecord>> {
        let i = &self.inner;
        Box::pin(queries::read::list(&i.db, i.backend, &i.tables, filter))
    }

    fn now(&self) -> StoreFuture<'_, DateTime<Utc>> {
        let i = &self.inner;
        Box::pin(queries::read::now(&i.db, i.backend))
    }

    fn listen(&self, wake: Arc<Notify>, stop: CancellationToken) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if !self.notify() {
                return Ok(());
            }
            #[cfg(feature = "postgres")]
            {
                crate::listen::listen(
                    &self.inner.db,
                    self.inner.url.as_deref(),
                    &self.inner.tables.channel,
                    wake,
                    stop,
                )
                .await
            }
            #[cfg(not(feature = "postgres"))]
            {
                let _ = (wake, stop);
                Ok(())
            }
        })
    }
}
