//! [`SeaStore`]: orch's [`Store`] on a sea-orm connection. Thin: each face is a folder
//! (`commands/`, `locks/`) whose `mod.rs` implements that face's trait.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orch_core::ConfigError;
use orch_core::store::{
    CommandStore, CronStore, InboxStore, LockStore, OutboxStore, Store, StoreError, StoreFuture,
};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::config::{SeaStoreConfig, validate_table_prefix};
use crate::conn::AnyConnection;
use crate::connect::connect;
use crate::sql::limits::StatementLimit;
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

pub(crate) struct Inner {
    pub(crate) db: DatabaseConnection,
    pub(crate) backend: Backend,
    pub(crate) tables: Tables,
    pub(crate) config: SeaStoreConfig,
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) url: Option<String>,
    /// The server's statement bound, read at build.
    pub(crate) limit: StatementLimit,
    /// PostgreSQL and MySQL/MariaDB with a URL: the claims pool, opened at the first claim (see
    /// [`crate::connect::Pool::Claims`]).
    pub(crate) claims: tokio::sync::OnceCell<DatabaseConnection>,
    /// Wake-ups owed after pushes orch committed itself (PostgreSQL).
    pub(crate) notifier: crate::notifier::Notifier,
    /// Single pushes made at the same time, written together.
    pub(crate) together: crate::commands::insert::together::Together,
    /// SQLite: the engine's claims and finishes take turns at writing (see
    /// [`Inner::sqlite_write_turn`]).
    sqlite_writes: tokio::sync::Mutex<()>,
    /// PostgreSQL: where the next claim of each set of pairs starts reading.
    pub(crate) claim_marks: crate::commands::claim::ClaimMarks,
}

impl Inner {
    /// On SQLite, this process's turn at writing a claim or a finish, held until the write
    /// commits. SQLite takes one writer at a time, and a writer that finds another busy
    /// sleeps in SQLite's busy handler (1 ms, then 2, 5, 10 … until the lock timeout)
    /// instead of being woken when the lock frees: a claim and a finish of one engine that
    /// met at the lock cost each other a millisecond or more (some 400–500 such sleeps in a
    /// drain of 100,000 commands). Waiting here instead, in line, each starts as soon as the
    /// other commits. Writers elsewhere (other processes, pushes) still meet the busy
    /// handler. `None` on the other backends.
    pub(crate) async fn sqlite_write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.backend == Backend::Sqlite {
            Some(self.sqlite_writes.lock().await)
        } else {
            None
        }
    }

    /// The claims pool, opened on first use; `None` where there is none (SQLite, a store
    /// built on the caller's connection or held to one connection) or it cannot be opened
    /// now.
    pub(crate) async fn claims_pool(&self) -> Option<&DatabaseConnection> {
        // A store held to one connection opens no other: its claims share that one.
        if self.backend == Backend::Sqlite || self.config.max_connections == Some(1) {
            return None;
        }
        let url = self.url.as_deref()?;
        self.claims
            .get_or_try_init(|| crate::connect::open(url, &self.config, crate::connect::Pool::Claims))
            .await
            .inspect_err(|error| tracing::warn!(%error, "could not open the claims pool; claiming through the main pool"))
            .ok()
    }
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
        let channel = tables.channel.clone();
        let limit = crate::sql::limits::read(&db, backend).await?;
        let store = Self {
            inner: Arc::new(Inner {
                db,
                backend,
                tables,
                config,
                url,
                limit,
                claims: tokio::sync::OnceCell::new(),
                notifier: crate::notifier::Notifier::new(channel),
                together: crate::commands::insert::together::Together::default(),
                sqlite_writes: tokio::sync::Mutex::new(()),
                claim_marks: crate::commands::claim::ClaimMarks::default(),
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
        crate::schema::run(&self.inner.db, self.inner.backend, &self.inner.tables).await
    }

    /// Drops every orch table of this prefix. Destroys data: for tests and tools.
    pub async fn drop_tables(&self) -> Result<(), StoreError> {
        crate::schema::drop_all(&self.inner.db, &self.inner.tables).await
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

    /// The quoted name of the outbox table, for tests and tools that inspect it.
    pub fn outbox_table(&self) -> &str {
        &self.inner.tables.outbox
    }

    /// The quoted name of the inbox table, for tests and tools that inspect it.
    pub fn inbox_table(&self) -> &str {
        &self.inner.tables.inbox
    }

    /// MySQL/MariaDB's `max_allowed_packet` in bytes, as read when the store was built
    /// (`None` on other backends): no statement, and so no single input, output or
    /// message, can be larger. A changed global value reaches new connections only.
    pub fn max_allowed_packet(&self) -> Option<u64> {
        self.inner.limit.max_allowed_packet
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Whether inserts send a PostgreSQL `NOTIFY`.
    pub(crate) fn notify(&self) -> bool {
        self.inner.config.notify && self.inner.backend == Backend::Postgres
    }
}

impl Store for SeaStore {
    type Tx = dyn AnyConnection;

    fn backend(&self) -> &'static str {
        self.inner.backend.name()
    }

    fn now(&self) -> StoreFuture<'_, DateTime<Utc>> {
        let i = &self.inner;
        Box::pin(crate::commands::read::now(&i.db, i.backend))
    }

    fn listen(&self, wake: Arc<Notify>, stop: CancellationToken) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let i = &self.inner;
            if i.backend != Backend::Postgres {
                // In-memory SQLite lives in this process only: nothing to watch (and a
                // connection taken from its one-connection pool would leave the pool to
                // open a new, empty database). Without the URL, SQLite cannot tell.
                let local = i.backend == Backend::Sqlite
                    && i.url
                        .as_deref()
                        .is_none_or(|url| url.contains(":memory:") || url.contains("mode=memory"));
                return match i.config.wake_probe {
                    Some(every) if !local => {
                        crate::watch::watch(&i.db, i.backend, &i.tables, every, wake, stop).await
                    }
                    _ => Ok(()),
                };
            }
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

    fn schema_versions(&self) -> StoreFuture<'_, (i64, i64)> {
        let i = &self.inner;
        Box::pin(crate::schema::versions(&i.db, i.backend, &i.tables))
    }

    fn commands(&self) -> &dyn CommandStore<dyn AnyConnection> {
        self
    }

    fn locks(&self) -> &dyn LockStore {
        self
    }

    fn cron(&self) -> &dyn CronStore {
        self
    }

    fn outbox(&self) -> &dyn OutboxStore<dyn AnyConnection> {
        self
    }

    fn inbox(&self) -> &dyn InboxStore<dyn AnyConnection> {
        self
    }

    fn max_statement_bytes(&self) -> usize {
        self.inner.limit.max_bytes
    }

    fn max_row_bytes(&self) -> Option<usize> {
        self.inner.limit.max_row_bytes()
    }
}
