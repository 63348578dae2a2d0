//! [`OrchBuilder`]: database, handlers, state and settings → [`Orch`].

use std::time::Duration;

use orch_core::cron::Job;
use orch_core::{Command, ConfigError, EngineBuilder, EngineConfig, Handler, RetryPolicy};
use orch_sea::{AnyConnection, SeaStore, SeaStoreConfig};
use sea_orm::DatabaseConnection;

use crate::Orch;

type Builder = EngineBuilder<dyn AnyConnection>;
type Step = Box<dyn FnOnce(Builder) -> Builder + Send>;

/// Builds an [`Orch`]: connects, runs migrations, checks the registry.
///
/// # Example
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> orch::Result<()> {
/// let orch = orch::Orch::builder()
///     .database("sqlite::memory:")
///     .instance_key("default")
///     .concurrency(32)
///     .build()
///     .await?;
/// # let _ = orch; Ok(()) }
/// ```
#[must_use]
#[derive(Default)]
pub struct OrchBuilder {
    database: Option<String>,
    connection: Option<DatabaseConnection>,
    store: SeaStoreConfig,
    steps: Vec<Step>,
    cron_jobs: Vec<Job>,
    prune_cron_jobs: bool,
}

impl std::fmt::Debug for OrchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchBuilder")
            .field("database", &self.database.as_deref().map(orch_sea::redact))
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl OrchBuilder {
    fn step(mut self, f: impl FnOnce(Builder) -> Builder + Send + 'static) -> Self {
        self.steps.push(Box::new(f));
        self
    }

    /// The database URL: `sqlite://orch.db?mode=rwc`, `sqlite::memory:`,
    /// `postgres://user@host/db`, `mysql://user@host/db`.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Some(url.into());
        self
    }

    /// Uses an existing sea-orm connection instead of a URL.
    pub fn connection(mut self, db: DatabaseConnection) -> Self {
        self.connection = Some(db);
        self
    }

    /// The table prefix (default `orch_`), validated at build.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.store.table_prefix = prefix.into();
        self
    }

    /// Replaces the storage settings.
    pub fn store_config(mut self, config: SeaStoreConfig) -> Self {
        self.store = config;
        self
    }

    /// Serves only this instance key and makes it the default target of pushes.
    pub fn instance_key(self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.step(move |b| b.instance_key(key))
    }

    /// Serves these instance keys; the first is the default target of pushes.
    pub fn instance_keys<I, S>(self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.step(move |b| b.instance_keys(keys))
    }

    /// Handlers running at once (default 100).
    pub fn concurrency(self, n: usize) -> Self {
        self.step(move |b| b.concurrency(n))
    }

    /// Most commands claimed per round trip (default 100).
    pub fn max_claim(self, n: u32) -> Self {
        self.step(move |b| b.max_claim(n))
    }

    /// Poll interval when nothing wakes the engine (default 1 s).
    pub fn poll_interval(self, interval: Duration) -> Self {
        self.step(move |b| b.poll_interval(interval))
    }

    /// Backoff between attempts.
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        self.step(move |b| b.retry_policy(policy))
    }

    /// Backoff between attempts of command `C` only.
    pub fn retry_policy_for<C: Command>(self, policy: RetryPolicy) -> Self {
        self.step(move |b| b.retry_policy_for::<C>(policy))
    }

    /// Changes any engine setting in place.
    pub fn configure(self, f: impl FnOnce(&mut EngineConfig) + Send + 'static) -> Self {
        self.step(move |b| b.configure(f))
    }

    /// Adds application state, read in handlers with `ctx.state::<T>()`.
    pub fn state<T: Send + Sync + 'static>(self, value: T) -> Self {
        self.step(move |b| b.state(value))
    }

    /// Registers a handler explicitly (it replaces a link-time one for the same command).
    pub fn handler<C: Command, H: Handler<C>>(self, handler: H) -> Self {
        self.step(move |b| b.handler::<C, H>(handler))
    }

    /// Declares a cron job: reconciled with the stored jobs when the handle is built
    /// (created if new, updated if its definition changed, left alone if the same).
    /// Stored jobs not declared are left alone unless [`OrchBuilder::prune_cron_jobs`].
    pub fn cron_job(mut self, job: Job) -> Self {
        self.cron_jobs.push(job);
        self
    }

    /// Deletes, at build, stored cron jobs that no [`OrchBuilder::cron_job`] declares.
    pub fn prune_cron_jobs(mut self) -> Self {
        self.prune_cron_jobs = true;
        self
    }

    /// Delivers outbox messages through `publisher`: the elected leader runs the relay
    /// (see [`orch_core::outbox`]). Without one, messages wait in the outbox for a relay
    /// elsewhere or for callers of the work-queue API.
    pub fn publisher(self, publisher: impl orch_core::outbox::Publisher) -> Self {
        self.step(move |b| b.publisher(publisher))
    }

    /// The outbox's limits and the relay's pace.
    pub fn outbox_config(self, config: orch_core::outbox::OutboxConfig) -> Self {
        self.step(move |b| b.configure(move |c| c.outbox = config))
    }

    /// Ignores `#[orch_handler]` registrations.
    pub fn without_link_time_handlers(self) -> Self {
        self.step(Builder::without_link_time_handlers)
    }

    /// Connects, migrates and builds.
    pub async fn build(self) -> crate::Result<Orch> {
        let store = match (self.connection, self.database) {
            (Some(db), _) => SeaStore::from_connection(db, self.store).await?,
            (None, Some(url)) => SeaStore::connect_with(&url, self.store).await?,
            (None, None) => {
                return Err(ConfigError::invalid(
                    "database",
                    "no database: call .database(\"sqlite://orch.db?mode=rwc\") or .connection(db)",
                )
                .into());
            }
        };
        let dyn_store: std::sync::Arc<dyn orch_core::store::Store<Tx = dyn AnyConnection>> =
            std::sync::Arc::new(store.clone());
        let builder = self
            .steps
            .into_iter()
            .fold(EngineBuilder::new(dyn_store), |b, step| step(b));
        let engine = builder.build()?;
        crate::packet::warn_limits_over_packet(&store, engine.config());
        let orch = Orch::new(engine, store);
        let cron = orch.cron();
        let mut declared = Vec::new();
        for job in self.cron_jobs {
            declared.push(job.name().to_owned());
            cron.upsert(job).await?;
        }
        if self.prune_cron_jobs {
            for job in cron.list().await? {
                if !declared.iter().any(|name| name == job.name()) {
                    cron.delete(job.name()).await?;
                }
            }
        }
        Ok(orch)
    }
}
