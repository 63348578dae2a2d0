//! The sea-orm backend under the suite: [`SeaBackend`] implements [`SuiteBackend`] for
//! SQLite, PostgreSQL and MariaDB, and the tests of what only this backend has (its
//! migrations and table prefixes, `push_in` with a sea-orm transaction, connections cut on
//! the server).

pub mod claim_cost;
pub mod claim_marks;
pub mod connection;
pub mod cron;
pub mod delete_succeeded;
pub mod finish_cost;
pub mod health;
pub mod inbox;
pub mod keys;
pub mod locks;
pub mod outbox;
pub mod packet;
pub mod partition;
pub mod refusals;
pub mod schema;
pub mod serialized_claims;
pub mod timeouts;
pub mod transactions;
pub mod unreadable;
pub mod write_turns;

use std::sync::Arc;
use std::time::Duration;

use orch::internal::store::Store;
use orch::internal::{AnyConnection, SeaStore};
use orch::{CommandId, CommandStatus, Orch, OrchBuilder};
use sea_orm::{ConnectionTrait, Statement, Value};
use tokio::sync::OnceCell;

use crate::backend::SuiteBackend;
use crate::backends::{BackendKind, FreshDatabase};

/// One fresh database on one of the three backends orch-sea supports.
pub struct SeaBackend {
    kind: BackendKind,
    db: FreshDatabase,
    worker_bin: &'static str,
    owned: bool,
    admin: OnceCell<SeaStore>,
    /// What the nodes' stores are opened with.
    store_config: orch::SeaStoreConfig,
}

impl SeaBackend {
    /// A fresh database of `kind`; `worker_bin` is the `orch-crash-worker` executable.
    pub async fn create(kind: BackendKind, worker_bin: &'static str) -> Self {
        Self {
            kind,
            db: FreshDatabase::create(kind).await,
            worker_bin,
            owned: true,
            admin: OnceCell::new(),
            store_config: orch::SeaStoreConfig::default(),
        }
    }

    /// The database another process made (a worker process's view): never dropped here.
    pub fn attach(url: &str, worker_bin: &'static str) -> Self {
        let kind = if url.starts_with("postgres") {
            BackendKind::Postgres
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            BackendKind::MySql
        } else {
            BackendKind::Sqlite
        };
        Self {
            kind,
            db: FreshDatabase::existing(url),
            worker_bin,
            owned: false,
            admin: OnceCell::new(),
            store_config: orch::SeaStoreConfig::default(),
        }
    }

    /// Opens the nodes' stores with `config` (the harness's helpers keep their own).
    #[must_use]
    pub fn with_store_config(mut self, config: orch::SeaStoreConfig) -> Self {
        self.store_config = config;
        self
    }

    /// The backend family.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.db.url
    }

    /// Drops the test's database now (the suite's cleanup then finds it gone).
    pub async fn drop_database_now(&self) {
        self.db.drop_database().await;
    }

    /// An `Orch` builder on this database with the suite's timings and no link-time
    /// handlers.
    pub fn orch_builder(&self) -> OrchBuilder {
        Orch::builder()
            .database(self.url())
            .without_link_time_handlers()
            .poll_interval(Duration::from_millis(50))
            .retry_policy(
                orch::RetryPolicy::new()
                    .base(Duration::from_millis(20))
                    .jitter(0.0),
            )
            .configure(|c| c.shutdown_grace = Duration::from_secs(5))
    }

    /// The store the helpers below run their statements on.
    async fn admin(&self) -> &SeaStore {
        self.admin
            .get_or_init(|| async { SeaStore::connect(self.url()).await.expect("admin store") })
            .await
    }

    /// Runs `template` on the test's database: `{commands}`, `{errors}`, `{locks}`,
    /// `{outbox}` and `{inbox}` name the tables, `{p1}`, `{p2}`… the bound `values`; returns the rows
    /// affected.
    pub async fn exec(&self, template: &str, values: Vec<Value>) -> u64 {
        let statement = self.statement(template, values).await;
        let db = self.admin().await.connection();
        db.execute_raw(statement)
            .await
            .expect("test statement")
            .rows_affected()
    }

    /// Runs the query `template` (written as for [`SeaBackend::exec`]) and returns every
    /// column of every row as text (`None` for NULL).
    pub async fn query_text(&self, template: &str, values: Vec<Value>) -> Vec<Vec<Option<String>>> {
        let statement = self.statement(template, values).await;
        let db = self.admin().await.connection();
        let rows = db.query_all_raw(statement).await.expect("test query");
        rows.iter()
            .map(|row| {
                (0..row.column_names().len())
                    .map(|i| {
                        row.try_get_by_index::<Option<String>>(i)
                            .expect("a text column")
                    })
                    .collect()
            })
            .collect()
    }

    /// `template` with its table names and placeholders filled in, and `values` bound.
    async fn statement(&self, template: &str, values: Vec<Value>) -> Statement {
        let store = self.admin().await;
        let db = store.connection();
        let errors = format!("{}command_errors", store.table_prefix());
        let errors = if self.kind == BackendKind::MySql {
            format!("`{errors}`")
        } else {
            format!("\"{errors}\"")
        };
        let locks = format!("{}locks", store.table_prefix());
        let locks = if self.kind == BackendKind::MySql {
            format!("`{locks}`")
        } else {
            format!("\"{locks}\"")
        };
        let mut sql = template
            .replace("{commands}", store.commands_table())
            .replace("{locks}", &locks)
            .replace("{errors}", &errors)
            .replace("{outbox}", store.outbox_table())
            .replace("{inbox}", store.inbox_table());
        for i in 1..=values.len() {
            let ph = if self.kind == BackendKind::Postgres {
                format!("${i}")
            } else {
                "?".to_owned()
            };
            sql = sql.replace(&format!("{{p{i}}}"), &ph);
        }
        Statement::from_sql_and_values(db.get_database_backend(), sql, values)
    }
}

impl SuiteBackend for SeaBackend {
    type Tx = dyn AnyConnection;

    fn name(&self) -> &'static str {
        match self.kind {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
            BackendKind::MySql => "mysql",
        }
    }

    fn session_locks(&self) -> bool {
        self.kind != BackendKind::Sqlite
    }

    async fn store(&self) -> Arc<dyn Store<Tx = dyn AnyConnection>> {
        Arc::new(
            SeaStore::connect_with(self.url(), self.store_config.clone())
                .await
                .expect("open a store"),
        )
    }

    async fn expire_lease(&self, id: CommandId) {
        let n = self
            .exec(
                "UPDATE {commands} SET lease_expires_at = lease_expires_at - 3600000000 WHERE id = {p1}",
                vec![id.as_uuid().into()],
            )
            .await;
        assert_eq!(n, 1, "expire lease of {id}");
    }

    async fn make_due(&self, id: CommandId) {
        let n = self
            .exec(
                "UPDATE {commands} SET run_at = run_at - 7200000000 WHERE id = {p1}",
                vec![id.as_uuid().into()],
            )
            .await;
        assert_eq!(n, 1, "make {id} due");
    }

    async fn shift_cron_job(&self, name: &str, back: Duration) {
        let table = format!("{}cron_jobs", self.admin().await.table_prefix());
        let n = self
            .exec(
                &format!(
                    "UPDATE {table} SET next_fire_at = next_fire_at - {{p1}} WHERE name = {{p2}}"
                ),
                vec![
                    i64::try_from(back.as_micros()).expect("shift").into(),
                    name.to_owned().into(),
                ],
            )
            .await;
        assert_eq!(n, 1, "shift cron job {name}");
    }

    async fn count(&self, status: CommandStatus) -> i64 {
        let store = self.admin().await;
        let db = store.connection();
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE status = '{}'",
            store.commands_table(),
            status.as_str()
        );
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("count")
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("count value")
    }

    fn worker(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(self.worker_bin);
        command.arg(self.url()).args(args).kill_on_drop(true);
        command
    }

    async fn cleanup(self) {
        if let Some(admin) = self.admin.get() {
            let _ = admin.connection().clone().close().await;
        }
        if self.owned {
            self.db.drop_database().await;
        }
    }
}
