//! [`Harness`]: one fresh database, and helpers to build engines on it and move its clock.

use std::time::Duration;

use orch::{CommandId, Orch, OrchBuilder};
use sea_orm::{ConnectionTrait, Statement, Value};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backends::{BackendKind, FreshDatabase};

/// One test's database.
pub struct Harness {
    /// The backend under test.
    pub kind: BackendKind,
    db: FreshDatabase,
    client: OnceCell<Orch>,
    worker_bin: &'static str,
}

/// An engine running in a background task.
pub struct Running {
    /// The engine's handle.
    pub orch: Orch,
    stop: CancellationToken,
    task: JoinHandle<orch::Result<()>>,
}

impl Running {
    /// Stops the engine gracefully and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("engine task panicked")
            .expect("engine failed");
    }
}

impl Harness {
    /// A fresh database of `kind`; `worker_bin` is the crash-test worker executable.
    pub async fn new(kind: BackendKind, worker_bin: &'static str) -> Self {
        Self {
            kind,
            db: FreshDatabase::create(kind).await,
            client: OnceCell::new(),
            worker_bin,
        }
    }

    /// The crash-test worker executable (runs an engine on the URL given as argument).
    pub fn worker_bin(&self) -> &'static str {
        self.worker_bin
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.db.url
    }

    /// A builder on this database with test-friendly timings and no link-time handlers.
    pub fn builder(&self) -> OrchBuilder {
        Orch::builder()
            .database(self.url())
            .without_link_time_handlers()
            .poll_interval(Duration::from_millis(50))
            .retry_policy(
                orch::RetryPolicy::new()
                    .base(Duration::from_millis(20))
                    .jitter(0.0),
            )
            .configure(|c| {
                c.shutdown_grace = Duration::from_secs(5);
            })
    }

    /// An engine on this database running `handler` for `C`, with `ledger` as state.
    pub async fn engine<C: orch::Command, H: orch::Handler<C>>(
        &self,
        handler: H,
        ledger: &std::sync::Arc<crate::commands::Ledger>,
    ) -> Orch {
        self.builder()
            .state(ledger.clone())
            .handler::<C, H>(handler)
            .build()
            .await
            .expect("build engine")
    }

    /// A client with no handlers, for pushing and reading.
    pub async fn client(&self) -> Orch {
        self.client
            .get_or_init(|| async { self.builder().build().await.expect("build client") })
            .await
            .clone()
    }

    /// Starts `orch`'s engine in a background task.
    pub fn start(&self, orch: &Orch) -> Running {
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (orch, stop) = (orch.clone(), stop.clone());
            async move { orch.run(stop).await }
        });
        Running {
            orch: orch.clone(),
            stop,
            task,
        }
    }

    /// Runs a statement on the test database; `{commands}` is replaced by the quoted
    /// commands table and `{p1}`, `{p2}`… by placeholders bound to `values`.
    pub async fn exec(&self, template: &str, values: Vec<Value>) -> u64 {
        let orch = self.client().await;
        let db = orch.store().connection();
        let mut sql = template.replace("{commands}", orch.store().commands_table());
        for i in 1..=values.len() {
            let ph = if self.kind == BackendKind::Postgres {
                format!("${i}")
            } else {
                "?".to_owned()
            };
            sql = sql.replace(&format!("{{p{i}}}"), &ph);
        }
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .expect("test statement")
        .rows_affected()
    }

    /// How many commands have `status`.
    pub async fn count(&self, status: orch::CommandStatus) -> i64 {
        let orch = self.client().await;
        let db = orch.store().connection();
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE status = '{}'",
            orch.store().commands_table(),
            status.as_str()
        );
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("count")
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("count value")
    }

    /// Moves a command's lease expiry into the past, as if its worker had died long ago.
    pub async fn expire_lease(&self, id: CommandId) {
        let n = self
            .exec(
                "UPDATE {commands} SET lease_expires_at = lease_expires_at - 3600000000 WHERE id = {p1}",
                vec![id.as_uuid().into()],
            )
            .await;
        assert_eq!(n, 1, "expire lease of {id}");
    }

    /// Makes a scheduled command due now by moving its `run_at` an hour back.
    pub async fn make_due(&self, id: CommandId) {
        let n = self
            .exec(
                "UPDATE {commands} SET run_at = run_at - 7200000000 WHERE id = {p1}",
                vec![id.as_uuid().into()],
            )
            .await;
        assert_eq!(n, 1, "make {id} due");
    }

    /// Drops the database.
    pub async fn cleanup(self) {
        if let Some(orch) = self.client.get() {
            let _ = orch.store().connection().clone().close().await;
        }
        self.db.drop_database().await;
    }
}
