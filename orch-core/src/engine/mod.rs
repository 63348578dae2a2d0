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
//! - The **heartbeat** renews the leases of long attempts and checks all of them, stopping
//!   attempts whose command was canceled or taken over.
//! - The **reaper** recovers commands whose lease expired.
//!
//! # Shutdown
//! When the token passed to [`Engine::run`] fires, the engine stops claiming, lets running
//! handlers finish for up to `shutdown_grace`, then fires their cancellation tokens and
//! releases their commands (back to `pending`, the attempt not counted), writes every
//! outstanding result, and returns.

mod builder;
mod completer;
pub mod config;
mod executor;
mod heartbeat;
mod inflight;
mod producer;
mod reaper;
pub(crate) mod shared;

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
pub use config::EngineConfig;
use inflight::StopReason;
use shared::Shared;

use crate::client::Client;
use crate::error::{ConfigError, Result};
use crate::id::WorkerId;

/// How long handlers get to return after their tokens fire at the end of the grace period.
const ABANDON_AFTER: Duration = Duration::from_secs(5);

/// The worker side of orch. Cheap to clone; [`Engine::run`] may be active once at a time.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    running: Arc<AtomicBool>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker", &self.shared.worker)
            .field("backend", &self.shared.store.backend())
            .field("commands", &self.shared.registry)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn crate::store::Store>) -> EngineBuilder {
        EngineBuilder::new(store)
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A client on the same store, registry and in-process wake-ups.
    pub fn client(&self) -> Client {
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
        background.spawn(listen(shared.clone(), services.clone()));
        background.spawn(heartbeat::run(shared.clone(), services.clone()));
        background.spawn(reaper::run(shared.clone(), services.clone()));

        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        // If the completer dies (a panic in a driver, say), results could no longer be
        // recorded: stop claiming at once and report it, rather than run commands whose
        // outcomes are thrown away.
        let failed = CancellationToken::new();
        let completer = tokio::spawn({
            let (shared, failed) = (shared.clone(), failed.clone());
            async move {
                let outcome = AssertUnwindSafe(completer::run(shared, done_rx))
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
            slot_freed: Arc::new(Notify::new()),
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

/// Keeps the store's listener running, restarting it after errors.
async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match shared.store.listen(shared.wake.clone(), stop.clone()).await {
            Ok(()) => break,
            Err(error) => {
                warn!(%error, "wake-up listener failed; polling until it reconnects");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Runs one reaper pass now (tests, tools): returns how many commands were recovered.
#[doc(hidden)]
pub async fn reap_now(engine: &Engine) -> Result<usize> {
    reaper::run_once(&engine.shared).await
}

/// Stops a running attempt of `id` in this process after a cancel.
pub(crate) fn inflight_stop(shared: &Shared, id: crate::id::CommandId) {
    shared.inflight.stop(id, StopReason::Canceled);
}
