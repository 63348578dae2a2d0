//! [`Node`]: an engine and its client on the seam, with the methods of `orch::Orch` the
//! suite uses, and [`NodeBuilder`], which makes one on a harness's backend.

use std::time::Duration;

use orch::internal::{Client, Engine, EngineBuilder};
use orch::{
    CancelOutcome, Command, CommandId, CommandRecord, EngineConfig, Handler, LeaderInfo,
    ListFilter, Lock, Push, Pushed, RetryPolicy, WorkerId,
};
use tokio_util::sync::CancellationToken;

use crate::backend::SuiteBackend;
use crate::harness::Harness;

/// An engine and its client: what one process of an application holds.
pub struct Node<Tx: ?Sized + 'static> {
    engine: Engine<Tx>,
    client: Client<Tx>,
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for Node<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<Tx: ?Sized + 'static> Clone for Node<Tx> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            client: self.client.clone(),
        }
    }
}

#[allow(
    missing_docs,
    reason = "each method is the orch::Orch method of the same name"
)]
impl<Tx: ?Sized + Send + Sync + 'static> Node<Tx> {
    pub async fn push<C: Command>(&self, cmd: C) -> orch::Result<CommandId> {
        self.client.push(cmd).await
    }
    pub async fn push_with<C: Command>(&self, cmd: C, push: Push) -> orch::Result<CommandId> {
        self.client.push_with(cmd, push).await
    }
    pub async fn submit<C: Command>(&self, cmd: C, push: Push) -> orch::Result<Pushed> {
        self.client.submit(cmd, push).await
    }
    pub async fn push_many<C: Command>(
        &self,
        cmds: impl IntoIterator<Item = C>,
    ) -> orch::Result<Vec<CommandId>> {
        self.client.push_many(cmds).await
    }
    pub fn command_queue(&self) -> orch::work_queue::CommandQueue<Tx> {
        self.client.command_queue()
    }
    pub async fn get(&self, id: CommandId) -> orch::Result<Option<CommandRecord>> {
        self.client.get(id).await
    }
    pub async fn cancel(&self, id: CommandId) -> orch::Result<CancelOutcome> {
        self.client.cancel(id).await
    }
    pub async fn schedule<C: Command>(
        &self,
        cmd: C,
        at: chrono::DateTime<chrono::Utc>,
    ) -> orch::Result<CommandId> {
        self.client.push_with(cmd, Push::new().run_at(at)).await
    }
    pub async fn cancel_timer(&self, id: CommandId) -> orch::Result<bool> {
        self.client.cancel_timer(id).await
    }
    pub async fn pending_timers(&self, limit: u32) -> orch::Result<Vec<CommandRecord>> {
        self.client.pending_timers(limit).await
    }
    pub async fn list(&self, filter: &ListFilter) -> orch::Result<Vec<CommandRecord>> {
        self.client.list(filter).await
    }
    pub async fn database_now(&self) -> orch::Result<chrono::DateTime<chrono::Utc>> {
        self.client.database_now().await
    }
    pub fn lock(&self, name: impl Into<String>) -> Lock {
        self.client.lock(name)
    }
    pub async fn leader(&self) -> orch::Result<Option<LeaderInfo>> {
        self.engine.leader().await
    }
    pub async fn health(&self) -> orch::Health {
        self.engine.health().await
    }
    pub fn cron(&self) -> orch::cron::Cron {
        self.client.cron()
    }
    pub fn is_leader(&self) -> bool {
        self.engine.is_leader()
    }
    pub async fn reap_now(&self) -> orch::Result<usize> {
        self.engine.reap_now().await
    }
    pub fn worker_id(&self) -> WorkerId {
        self.engine.worker_id()
    }
    pub async fn run(&self, stop: CancellationToken) -> orch::Result<()> {
        self.engine.run(stop).await
    }
}

type Step<Tx> = Box<dyn FnOnce(EngineBuilder<Tx>) -> EngineBuilder<Tx> + Send>;

/// Builds a [`Node`] on a harness's backend, with the suite's test-friendly timings
/// (50 ms polls, 20 ms backoff without jitter, 5 s shutdown grace) and no link-time
/// handlers.
#[must_use]
pub struct NodeBuilder<'h, B: SuiteBackend> {
    harness: &'h Harness<B>,
    steps: Vec<Step<B::Tx>>,
}

#[allow(
    missing_docs,
    reason = "each method is the orch::OrchBuilder method of the same name"
)]
impl<'h, B: SuiteBackend> NodeBuilder<'h, B> {
    pub(crate) fn new(harness: &'h Harness<B>) -> Self {
        Self {
            harness,
            steps: Vec::new(),
        }
    }

    fn step(
        mut self,
        f: impl FnOnce(EngineBuilder<B::Tx>) -> EngineBuilder<B::Tx> + Send + 'static,
    ) -> Self {
        self.steps.push(Box::new(f));
        self
    }

    pub fn state<T: Send + Sync + 'static>(self, value: T) -> Self {
        self.step(move |b| b.state(value))
    }
    pub fn handler<C: Command, H: Handler<C>>(self, handler: H) -> Self {
        self.step(move |b| b.handler::<C, H>(handler))
    }
    pub fn configure(self, f: impl FnOnce(&mut EngineConfig) + Send + 'static) -> Self {
        self.step(move |b| b.configure(f))
    }
    pub fn instance_key(self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.step(move |b| b.instance_key(key))
    }
    pub fn instance_keys(self, keys: &[&str]) -> Self {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        self.step(move |b| b.instance_keys(keys))
    }
    pub fn concurrency(self, n: usize) -> Self {
        self.step(move |b| b.concurrency(n))
    }
    pub fn max_claim(self, n: u32) -> Self {
        self.step(move |b| b.max_claim(n))
    }
    pub fn retry_policy_for<C: Command>(self, policy: RetryPolicy) -> Self {
        self.step(move |b| b.retry_policy_for::<C>(policy))
    }

    /// Opens a store on the backend and builds the node.
    pub async fn build(self) -> orch::Result<Node<B::Tx>> {
        let store = self.harness.backend().store().await;
        let defaults = EngineBuilder::new(store)
            .without_link_time_handlers()
            .poll_interval(Duration::from_millis(50))
            .retry_policy(
                RetryPolicy::new()
                    .base(Duration::from_millis(20))
                    .jitter(0.0),
            )
            .configure(|c| c.shutdown_grace = Duration::from_secs(5));
        let engine = self
            .steps
            .into_iter()
            .fold(defaults, |b, step| step(b))
            .build()?;
        Ok(Node {
            client: engine.client(),
            engine,
        })
    }
}
