//! [`Orch`]: the client and the engine over SQL storage, in one handle.

use orch_core::{
    CancelOutcome, Client, Command, CommandId, CommandRecord, Engine, LeaderInfo, ListFilter, Lock,
    Push, Pushed, Result, WorkerId,
};
use orch_sea::{AnyConnection, SeaStore};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio_util::sync::CancellationToken;

use crate::builder::OrchBuilder;

/// Push, cancel and inspect commands, and run the engine. Cheap to clone.
///
/// # Example
/// ```
/// use orch::prelude::*;
///
/// #[orch_command(retries = 2)]
/// #[derive(Serialize, Deserialize)]
/// struct Greet { name: String }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> orch::Result<()> {
/// let orch = Orch::builder().database("sqlite::memory:").build().await?;
/// let id = orch.push(Greet { name: "Ada".into() }).await?;
/// let rec = orch.get(id).await?.expect("just pushed");
/// assert_eq!(rec.status, CommandStatus::Pending);
/// assert_eq!(rec.name, "greet");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Orch {
    engine: Engine<dyn AnyConnection>,
    client: Client<dyn AnyConnection>,
    store: SeaStore,
}

impl Orch {
    /// A builder.
    pub fn builder() -> OrchBuilder {
        OrchBuilder::default()
    }

    pub(crate) fn new(engine: Engine<dyn AnyConnection>, store: SeaStore) -> Self {
        let client = engine.client();
        Self {
            engine,
            client,
            store,
        }
    }

    /// Pushes a command; returns its id.
    pub async fn push<C: Command>(&self, cmd: C) -> Result<CommandId> {
        self.client.push(cmd).await
    }

    /// Pushes a command with options (target, run time, idempotency key, overrides).
    /// With an idempotency key that already exists, returns the existing command's id and
    /// inserts nothing.
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// use std::time::Duration;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Invoice { order: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let opts = Push::new()
    ///     .target("billing")
    ///     .delay(Duration::from_secs(60))
    ///     .idempotency_key("invoice-7");
    /// let first = orch.push_with(Invoice { order: 7 }, opts.clone()).await?;
    /// let again = orch.push_with(Invoice { order: 7 }, opts).await?;
    /// assert_eq!(first, again);
    /// # Ok(()) }
    /// ```
    pub async fn push_with<C: Command>(&self, cmd: C, push: Push) -> Result<CommandId> {
        self.client.push_with(cmd, push).await
    }

    /// [`Orch::push_with`], saying whether the push created the command or found one with
    /// the same idempotency key (keys are unique across the table prefix, not per name).
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Invoice { order: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let opts = Push::new().idempotency_key("invoice:7");
    /// let first = orch.submit(Invoice { order: 7 }, opts.clone()).await?;
    /// let again = orch.submit(Invoice { order: 7 }, opts).await?;
    /// assert!(first.created && !again.created);
    /// assert_eq!(first.id, again.id);
    /// # Ok(()) }
    /// ```
    pub async fn submit<C: Command>(&self, cmd: C, push: Push) -> Result<Pushed> {
        self.client.submit(cmd, push).await
    }

    /// Pushes many commands of one type atomically (all or none), one statement per
    /// thousand.
    pub async fn push_many<C, I>(&self, cmds: I) -> Result<Vec<CommandId>>
    where
        C: Command,
        I: IntoIterator<Item = C>,
    {
        self.client.push_many(cmds).await
    }

    /// Pushes a command inside the caller's own sea-orm transaction (or any connection):
    /// it exists exactly when that transaction commits.
    ///
    /// Engines in this process are woken at once; on PostgreSQL, engines elsewhere are woken
    /// when the transaction commits, and on SQLite and MySQL at their next poll.
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// use sea_orm::TransactionTrait;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct SendReceipt { order: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let db = orch.connection();
    /// let txn = db.begin().await?;
    /// // … the application's own writes on `txn` …
    /// let id = orch.push_in(&txn, SendReceipt { order: 7 }).await?;
    /// txn.rollback().await?;                   // rolled back: the command never existed
    /// assert!(orch.get(id).await?.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn push_in<Conn: ConnectionTrait + Send + 'static, C: Command>(
        &self,
        conn: &Conn,
        cmd: C,
    ) -> Result<CommandId> {
        self.push_in_with(conn, cmd, Push::new()).await
    }

    /// [`Orch::push_in`] with options.
    pub async fn push_in_with<Conn: ConnectionTrait + Send + 'static, C: Command>(
        &self,
        conn: &Conn,
        cmd: C,
        push: Push,
    ) -> Result<CommandId> {
        self.client.push_in_with(conn, cmd, push).await
    }

    /// [`Orch::push_in_with`], saying whether the push created the command (see
    /// [`Orch::submit`]).
    pub async fn submit_in<Conn: ConnectionTrait + Send + 'static, C: Command>(
        &self,
        conn: &Conn,
        cmd: C,
        push: Push,
    ) -> Result<Pushed> {
        self.client.submit_in(conn, cmd, push).await
    }

    /// Schedules a command to run at `at` (by the database's clock): a durable one-shot
    /// timer. It survives restarts, fires once, and can be called off with
    /// [`Orch::cancel_timer`] until it starts. Returns its id.
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// use std::time::Duration;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Remind { user: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let at = orch.database_now().await? + chrono::Duration::hours(24);
    /// let id = orch.schedule(Remind { user: 7 }, at).await?;
    /// assert_eq!(orch.pending_timers(10).await?[0].run_at, at);
    /// assert!(orch.cancel_timer(id).await?);       // called off before it started
    /// assert!(!orch.cancel_timer(id).await?);      // and only once
    /// # Ok(()) }
    /// ```
    pub async fn schedule<C: Command>(
        &self,
        cmd: C,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<CommandId> {
        self.client.push_with(cmd, Push::new().run_at(at)).await
    }

    /// [`Orch::schedule`] inside the caller's own transaction: the timer exists exactly
    /// when it commits.
    pub async fn schedule_in<Conn: ConnectionTrait + Send + 'static, C: Command>(
        &self,
        conn: &Conn,
        cmd: C,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<CommandId> {
        self.client
            .push_in_with(conn, cmd, Push::new().run_at(at))
            .await
    }

    /// Calls off a command that has not started (a timer not yet fired): true if it was
    /// canceled, false if it had started, finished, was canceled before, or does not
    /// exist. A started command is left running; use [`Orch::cancel`] to stop it.
    pub async fn cancel_timer(&self, id: CommandId) -> Result<bool> {
        self.client.cancel_timer(id).await
    }

    /// Pending timers with their due times (`run_at`): commands not started yet whose due
    /// time is still ahead by the database's clock, soonest first, at most `limit` (capped
    /// at 10,000).
    pub async fn pending_timers(&self, limit: u32) -> Result<Vec<CommandRecord>> {
        self.client.pending_timers(limit).await
    }

    /// Cancels a pending or running command (a running handler's token fires); the command
    /// type's `on_cancel` follow-ups are inserted in the same transaction.
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Reminder { user: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let id = orch.push(Reminder { user: 1 }).await?;
    /// assert_eq!(orch.cancel(id).await?, CancelOutcome::CanceledPending);
    /// assert_eq!(orch.get(id).await?.map(|r| r.status), Some(CommandStatus::Canceled));
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self, id: CommandId) -> Result<CancelOutcome> {
        self.client.cancel(id).await
    }

    /// Reads a command: status, attempts, errors, output.
    pub async fn get(&self, id: CommandId) -> Result<Option<CommandRecord>> {
        self.client.get(id).await
    }

    /// Lists commands matching `filter`, newest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<CommandRecord>> {
        self.client.list(filter).await
    }

    /// A named lock shared by every process on this database, with a fencing token.
    ///
    /// `acquire(wait)` returns a guard, or `None` if another holder kept the lock for all
    /// of `wait` (`Duration::ZERO` tries once). The lock is released by
    /// [`LockGuard::release`](orch_core::LockGuard::release), when the guard is dropped,
    /// and when the holder's process or connection dies (see [`orch_core::lock`]).
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> orch::Result<()> {
    /// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
    /// let guard = orch.lock("nightly-export").acquire(Duration::ZERO).await?.expect("free");
    /// // Another holder is refused while the guard lives…
    /// assert!(orch.lock("nightly-export").acquire(Duration::ZERO).await?.is_none());
    /// let first = guard.token(); // hand this to the resource you protect
    /// guard.release().await?;
    /// // …and the next holder gets a greater token.
    /// let again = orch.lock("nightly-export").acquire(Duration::from_secs(1)).await?.expect("free");
    /// assert!(again.token() > first);
    /// # Ok(()) }
    /// ```
    pub fn lock(&self, name: impl Into<String>) -> Lock {
        self.client.lock(name)
    }

    /// The cron jobs on this database: upsert, pause, resume, delete, trigger, read and
    /// list their runs. The scheduler runs on the elected leader (see [`orch_core::cron`]
    /// for the guarantees and policies).
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// use orch::cron::{Job, Upserted};
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Report { kind: String }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = Orch::builder().database("sqlite::memory:").build().await?;
    /// let job = Job::new("nightly-report", "0 2 * * *", Report { kind: "sales".into() })
    ///     .time_zone("Europe/Paris");
    /// assert_eq!(orch.cron().upsert(job.clone()).await?, Upserted::Created);
    /// assert_eq!(orch.cron().upsert(job).await?, Upserted::Unchanged);
    /// let info = orch.cron().get("nightly-report").await?.expect("stored");
    /// assert!(info.next_fire_at.is_some());
    /// # Ok(()) }
    /// ```
    pub fn cron(&self) -> orch_core::cron::Cron {
        self.client.cron()
    }

    /// The transactional outbox: `enqueue_in(&txn, message)` inside your own transaction,
    /// `enqueue`, inspection (`get`, `list`, `stats`), operator actions (`retry`,
    /// `discard`, `prune`) and the work-queue API (`claim`, `ack`, `abandon`, `fail`,
    /// `reap_expired`). With a publisher set on the builder, the elected leader's relay
    /// delivers the messages (see [`orch_core::outbox`] for the guarantees).
    ///
    /// # Example
    /// ```
    /// use orch::outbox::Message;
    /// use sea_orm::TransactionTrait;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
    /// let txn = orch.connection().begin().await?;
    /// // … the application's own writes on `txn` …
    /// let id = orch
    ///     .outbox()
    ///     .enqueue_in(&txn, Message::new("orders.created", br#"{"order":42}"#.to_vec()).key("order-42"))
    ///     .await?;
    /// txn.commit().await?; // the message exists from here on
    /// assert!(orch.outbox().get(id).await?.is_some());
    /// # Ok(()) }
    /// ```
    pub fn outbox(&self) -> orch_core::outbox::Outbox<dyn AnyConnection> {
        self.client.outbox()
    }

    /// Begins a [`UnitOfWork`](crate::UnitOfWork): a transaction whose raised domain
    /// events are written to the outbox when it commits.
    ///
    /// # Errors
    /// The database failed.
    pub async fn unit_of_work(&self) -> Result<crate::UnitOfWork> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let txn = self
            .connection()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(|e| {
                orch_core::store::StoreError::new(
                    orch_core::store::StoreErrorKind::Query,
                    "begin a unit of work",
                    Some(Box::new(e)),
                )
            })?;
        Ok(crate::UnitOfWork::new(txn, self.outbox()))
    }

    /// The inbox: [`process_once`](crate::inbox::Inbox::process_once) runs a handler for
    /// a received message exactly once, and the step-by-step calls keep each message's
    /// status (see [`crate::inbox`]).
    pub fn inbox(&self) -> crate::inbox::Inbox {
        crate::inbox::Inbox::new(self.client.inbox(), self.connection().clone())
    }

    /// The work-queue API on commands, for callers that process commands themselves
    /// instead of registering handlers: `claim(owner, names, lease, batch)`, `ack`,
    /// `abandon`, `fail`, `reap_expired`, each fenced by the owner's token (see
    /// [`orch_core::work_queue`]).
    ///
    /// # Example
    /// ```
    /// use orch::prelude::*;
    /// use orch::outbox::OwnerToken;
    /// use std::time::Duration;
    /// # #[orch_command] #[derive(Serialize, Deserialize)] struct Resize { image: u64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> orch::Result<()> {
    /// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
    /// orch.push(Resize { image: 7 }).await?;
    /// let me = OwnerToken::new();
    /// let queue = orch.command_queue();
    /// let claimed = queue.claim(me, &["resize"], Duration::from_secs(30), 10).await?;
    /// assert_eq!(claimed.len(), 1);
    /// // … process claimed[0].input …
    /// assert_eq!(queue.ack(me, &[claimed[0].id]).await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn command_queue(&self) -> orch_core::work_queue::CommandQueue<dyn AnyConnection> {
        self.client.command_queue()
    }

    /// The elected leader among the engines running on this database (the one running the
    /// once-per-cluster services, such as the reaper), if any engine runs.
    ///
    /// # Errors
    /// The database failed.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>> {
        self.engine.leader().await
    }

    /// A health check: the database (a timed round trip), the schema, this engine's
    /// services and leadership, and each command name's due, running and dead commands.
    /// Never fails: what could not be read is reported as such. `is_ready()` and
    /// `is_live()` are the probes; the struct serializes with serde (see
    /// [`orch_core::health`]).
    ///
    /// # Example
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> orch::Result<()> {
    /// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
    /// let health = orch.health().await;
    /// assert!(health.is_ready() && health.is_live());
    /// assert!(health.schema.current);
    /// # Ok(()) }
    /// ```
    pub async fn health(&self) -> orch_core::Health {
        self.engine.health().await
    }

    /// Whether this handle's engine is the elected leader right now (false unless
    /// [`Orch::run`] is active).
    pub fn is_leader(&self) -> bool {
        self.engine.is_leader()
    }

    /// Runs the engine until `shutdown` fires, then shuts down gracefully.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<()> {
        self.engine.run(shutdown).await
    }

    /// The database connection pool orch uses: begin your own transactions on it for
    /// [`Orch::push_in`].
    pub fn connection(&self) -> &DatabaseConnection {
        self.store.connection()
    }

    /// This handle's worker id: the lease owner of what its engine claims, and its id as a
    /// leader or lock holder.
    pub fn worker_id(&self) -> WorkerId {
        self.engine.worker_id()
    }

    /// Recovers every command whose lease expired, now, whether or not this engine leads
    /// (tools and tests; the leader's reaper does it every `reaper_interval`). Returns how
    /// many were recovered.
    ///
    /// # Errors
    /// The database failed.
    pub async fn reap_now(&self) -> Result<usize> {
        self.engine.reap_now().await
    }

    /// The client beneath this handle ([`internal`](crate::internal) API).
    pub fn client(&self) -> &Client<dyn AnyConnection> {
        &self.client
    }

    /// The engine beneath this handle ([`internal`](crate::internal) API).
    pub fn engine(&self) -> &Engine<dyn AnyConnection> {
        &self.engine
    }

    /// The SQL store beneath this handle ([`internal`](crate::internal) API).
    pub fn store(&self) -> &SeaStore {
        &self.store
    }

    /// The database's current time.
    pub async fn database_now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        self.client.database_now().await
    }
}
