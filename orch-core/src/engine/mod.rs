//! The [`Engine`]: claims due commands, runs their handlers and records the outcomes.
//!
//! # How the pieces fit
//! - The **producer** claims batches sized to free capacity (at most `max_claim`), only for
//!   names this engine has handlers for and instance keys it serves, and starts one
//!   **executor** task per command. It sleeps until an in-process push, a database
//!   notification (PostgreSQL `LISTEN`) or the poll interval wakes it.
//! - Each executor runs its handler under the attempt's timeout and cancellation token and
//!   catches panics. The outcome goes to the **completer**, which writes finishes in
//!   batches, each one fenced on its lease token, with follow-ups in the same transaction.
//! - Background services (see `services`): the **heartbeat** renews the leases of long
//!   attempts and checks all of them, stopping attempts whose command was canceled or taken
//!   over; the **listener** keeps database wake-ups coming; the **leader** election runs
//!   the once-per-cluster services, such as the **reaper** that recovers commands whose
//!   lease expired, on one engine only.
//!
//! # Shutdown
//! When the token passed to [`Engine::run`] fires, the engine stops claiming, lets running
//! handlers finish for up to `shutdown_grace`, then fires their cancellation tokens and
//! releases their commands (back to `pending`, the attempt not counted), writes every
//! outstanding result, and returns.

mod builder;
mod completer;
mod executor;
mod producer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

pub use builder::EngineBuilder;

use crate::client::Client;
use crate::config::EngineConfig;
use crate::error::{ConfigError, Result};
use crate::id::WorkerId;
use crate::services::fence::Fence;
use crate::services::heartbeat::Heartbeat;
use crate::services::leader::{LEADER_LOCK, Leader, LeaderInfo};
use crate::services::listener::Listener;
use crate::services::owed_follow_ups::OwedFollowUps;
use crate::shared::Shared;
use crate::shared::inflight::StopReason;
use crate::store::Store;

/// Claimed commands whose results are not written yet, per unit of `concurrency`: the
/// running ones plus three times as many finished ones waiting for the database. A
/// database that stops taking results therefore stops claims instead of growing memory;
/// a busy one gets results in large batches (at two per slot, MariaDB drains of 1,000
/// workers ran about 4 % slower, on more and smaller finish transactions).
const UNWRITTEN_PER_SLOT: usize = 4;

/// How long handlers get to return after their tokens fire at the end of the grace period.
const ABANDON_AFTER: Duration = Duration::from_secs(5);

/// The worker side of orch. Cheap to clone; [`Engine::run`] may be active once at a time.
///
/// `Tx` is the store's transaction type ([`Store::Tx`]).
pub struct Engine<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
    running: Arc<AtomicBool>,
}

impl<Tx: ?Sized + 'static> Clone for Engine<Tx> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            running: self.running.clone(),
        }
    }
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for Engine<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker", &self.shared.worker)
            .field("backend", &self.shared.store.backend())
            .field("commands", &self.shared.registry)
            .finish_non_exhaustive()
    }
}

impl<Tx: ?Sized + 'static> Engine<Tx> {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Store<Tx = Tx>>) -> EngineBuilder<Tx> {
        EngineBuilder::new(store)
    }

    pub(crate) fn from_shared(shared: Arc<Shared<Tx>>) -> Self {
        Self {
            shared,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A client on the same store, registry and in-process wake-ups.
    pub fn client(&self) -> Client<Tx> {
        Client::from_shared(self.shared.clone())
    }

    /// This engine incarnation's id (the `lease_owner` of what it claims).
    pub fn worker_id(&self) -> WorkerId {
        self.shared.worker
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The command names this engine runs.
    pub fn registry(&self) -> &crate::Registry {
        &self.shared.registry
    }

    /// Handlers running right now.
    pub fn running(&self) -> usize {
        self.shared.inflight.len()
    }

    /// Whether this engine is the elected leader right now (it runs the once-per-cluster
    /// services, such as the reaper). False while [`Engine::run`] is not active.
    pub fn is_leader(&self) -> bool {
        self.shared.is_leading()
    }

    /// The elected leader among the engines on this database, if any engine runs.
    ///
    /// # Errors
    /// The database failed.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>> {
        let holder = self.shared.locks.holder(LEADER_LOCK).await?;
        Ok(holder.map(|h| LeaderInfo {
            worker: WorkerId::from_uuid(h.holder),
            term: h.token,
            is_self: h.holder == self.shared.worker.as_uuid(),
        }))
    }

    /// A health check: the database (a timed round trip), the schema, this engine's
    /// services and leadership, and every command name's queue. Never fails: what could
    /// not be read is reported as such (see [`crate::health`]).
    pub async fn health(&self) -> crate::Health {
        use crate::health::{DatabaseHealth, EngineHealth, Health, SchemaHealth};
        let store = &self.shared.store;
        let started = tokio::time::Instant::now();
        let now = store.now().await;
        let latency = started.elapsed();
        let reachable = now.is_ok();
        let (applied, expected) = store.schema_versions().await.unwrap_or_default();
        let leader = if reachable {
            self.leader().await.ok().flatten()
        } else {
            None
        };
        let commands = if reachable {
            self.shared
                .commands()
                .queue_stats()
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let outbox = if reachable {
            self.shared.store.outbox().stats().await.ok()
        } else {
            None
        };
        Health {
            database: DatabaseHealth {
                backend: store.backend(),
                reachable,
                latency,
                error: now.err().map(|e| e.to_string()),
            },
            schema: SchemaHealth {
                current: reachable && expected > 0 && applied >= expected,
                applied,
                expected,
            },
            engine: EngineHealth {
                running: self.running.load(Ordering::Acquire),
                worker: self.shared.worker,
                is_leader: self.shared.is_leading(),
                leader,
                services: self.shared.board.snapshot(),
                handlers_running: self.shared.inflight.len(),
            },
            commands,
            outbox,
        }
    }

    /// Recovers every command whose lease expired now, whether or not this engine leads
    /// (tools and tests); returns how many were recovered.
    ///
    /// # Errors
    /// The database failed.
    pub async fn reap_now(&self) -> Result<usize> {
        crate::services::reaper::reap(&self.shared).await
    }

    /// Claims, runs and completes commands until `shutdown` fires, then shuts down
    /// gracefully (see the module docs).
    pub async fn run(&self, shutdown: CancellationToken) -> Result<()> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(ConfigError::invalid("engine", "Engine::run is already active").into());
        }
        let result = self.run_inner(shutdown).await;
        self.running.store(false, Ordering::Release);
        result
    }

    async fn run_inner(&self, shutdown: CancellationToken) -> Result<()> {
        let shared = &self.shared;
        info!(
            worker = %shared.worker,
            backend = shared.store.backend(),
            commands = ?shared.registry.names(),
            targets = ?shared.config.instance_keys,
            "engine starting"
        );
        let services = CancellationToken::new();
        let background = TaskTracker::new();
        // Commands due that this engine cannot run: fine if another engine serves them, a
        // forgotten handler otherwise. Off the start's critical path.
        background.spawn({
            let shared = shared.clone();
            async move {
                if let Ok(queues) = shared.commands().queue_stats().await {
                    let unserved: Vec<&str> = queues
                        .iter()
                        .filter(|q| q.due > 0 && !shared.registry.contains(&q.name))
                        .map(|q| q.name.as_str())
                        .collect();
                    if !unserved.is_empty() {
                        warn!(names = ?unserved, "due commands whose names this engine has no handler for; they wait for an engine that has one");
                    }
                }
            }
        });
        background.spawn(crate::services::run(
            Listener {
                shared: shared.clone(),
                stop: services.clone(),
                done: false,
            },
            services.clone(),
            shared.board.clone(),
        ));
        background.spawn(crate::services::run(
            Heartbeat {
                shared: shared.clone(),
            },
            services.clone(),
            shared.board.clone(),
        ));
        background.spawn(crate::services::run(
            Fence {
                shared: shared.clone(),
            },
            services.clone(),
            shared.board.clone(),
        ));
        background.spawn(crate::services::run(
            OwedFollowUps {
                shared: shared.clone(),
            },
            services.clone(),
            shared.board.clone(),
        ));
        background.spawn(crate::services::run(
            Leader::new(shared.clone()),
            services.clone(),
            shared.board.clone(),
        ));

        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        // Woken when a handler returns and when results are written: either frees capacity.
        let slot_freed = Arc::new(Notify::new());
        // If the completer dies (a panic in a driver, say), results could no longer be
        // recorded: stop claiming at once and report it, rather than run commands whose
        // outcomes are thrown away.
        let failed = CancellationToken::new();
        let completer = tokio::spawn({
            let (shared, failed, written) = (shared.clone(), failed.clone(), slot_freed.clone());
            async move {
                let outcome = AssertUnwindSafe(completer::run(shared, done_rx, written))
                    .catch_unwind()
                    .await;
                if outcome.is_err() {
                    error!("the completer panicked; the engine stops claiming");
                    failed.cancel();
                }
                outcome.is_ok()
            }
        });
        let stop = CancellationToken::new();
        let stop_on = tokio::spawn({
            let (stop, shutdown, failed) = (stop.clone(), shutdown.clone(), failed.clone());
            async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = failed.cancelled() => {}
                }
                stop.cancel();
            }
        });
        let tasks = TaskTracker::new();
        let producer = producer::Producer {
            shared: shared.clone(),
            slots: Arc::new(Semaphore::new(shared.config.concurrency)),
            unwritten: Arc::new(Semaphore::new(
                shared.config.concurrency.saturating_mul(UNWRITTEN_PER_SLOT),
            )),
            slot_freed,
            tasks: tasks.clone(),
            done: done_tx,
        };
        producer.run(stop.clone()).await;
        stop_on.abort();

        // Decide (done: no more claims), tell (after the grace period), wait.
        tasks.close();
        info!(running = shared.inflight.len(), grace = ?shared.config.shutdown_grace, "engine stopping");
        let mut abandoned = false;
        if tokio::time::timeout(shared.config.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            shared.inflight.stop_all(StopReason::Shutdown);
            if tokio::time::timeout(ABANDON_AFTER, tasks.wait())
                .await
                .is_err()
            {
                abandoned = true;
                warn!(
                    running = shared.inflight.len(),
                    "handlers ignored cancellation; their leases will expire and be reaped"
                );
            }
        }
        // Every executor's sender is gone once the tasks are; the completer drains and ends.
        // With abandoned handlers still holding senders, give it a bounded time instead.
        let completed = if abandoned || failed.is_cancelled() {
            tokio::time::timeout(ABANDON_AFTER, completer)
                .await
                .unwrap_or(Ok(false))
        } else {
            completer.await
        };
        let completer_ok = matches!(completed, Ok(true));
        services.cancel();
        background.close();
        background.wait().await;
        info!(worker = %shared.worker, "engine stopped");
        if completer_ok {
            Ok(())
        } else {
            Err(crate::Error::EngineFailed(
                "the completer failed; unrecorded results will be recovered by the reaper".into(),
            ))
        }
    }
}
