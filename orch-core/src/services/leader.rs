//! Leader election (every engine): the engines on one database elect one leader through a
//! lock, and only the leader runs the services that must run once per cluster (the reaper,
//! the cron scheduler, and the outbox relay when a publisher is set).
//!
//! Every engine tries to take the leader lock once per `leader_ttl / 3` while it is not
//! leader; the leader re-checks its lock at the same pace and steps down (stopping its
//! leader-only services) the moment it finds the lock gone.
//!
//! # Bound
//! A leader that crashes is replaced within `leader_ttl / 3` (5 s by default) on PostgreSQL
//! and MySQL/MariaDB, where its death closes the lock's connection, and within
//! `leader_ttl + leader_ttl / 3` (20 s) on SQLite, or when the leader's network is cut
//! rather than its process killed. Leadership is a liveness device, not a safety one: each
//! leader-only service is safe with two leaders for a moment (the reaper's rescues are
//! fenced), and each term carries the lock's fencing token.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::Service;
use super::reaper::Reaper;
use super::relay::Relay;
use super::scheduler::Scheduler;
use crate::id::WorkerId;
use crate::lock::{Lock, LockGuard};
use crate::shared::Shared;

/// The name of the leader lock (in the reserved `orch.` namespace).
pub(crate) const LEADER_LOCK: &str = "orch.leader";

/// The current leader, as [`Engine::leader`](crate::Engine::leader) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct LeaderInfo {
    /// The leading engine's worker id.
    pub worker: WorkerId,
    /// The fencing token of its term: each new leader's is greater.
    pub term: u64,
    /// Whether the leader is the engine asking.
    pub is_self: bool,
}

/// The election service of one engine.
pub(crate) struct Leader<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
    guard: Option<LockGuard>,
    term: Option<(CancellationToken, TaskTracker)>,
}

impl<Tx: ?Sized + 'static> Leader<Tx> {
    pub(crate) fn new(shared: Arc<Shared<Tx>>) -> Self {
        Self {
            shared,
            guard: None,
            term: None,
        }
    }

    /// Starts the leader-only services for a new term.
    fn start_term(&mut self) {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(super::run(
            Reaper {
                shared: self.shared.clone(),
                last_inbox_prune: None,
            },
            stop.clone(),
            self.shared.board.clone(),
        ));
        tasks.spawn(super::run(
            Scheduler {
                shared: self.shared.clone(),
                passes: 0,
            },
            stop.clone(),
            self.shared.board.clone(),
        ));
        if let Some(publisher) = &self.shared.publisher {
            tasks.spawn(super::run(
                Relay::new(self.shared.clone(), publisher.clone()),
                stop.clone(),
                self.shared.board.clone(),
            ));
        }
        tasks.close();
        self.term = Some((stop, tasks));
        self.shared.set_leading(true);
    }

    /// Stops the leader-only services and lets go of the lock.
    async fn step_down(&mut self) {
        self.shared.set_leading(false);
        if let Some((stop, tasks)) = self.term.take() {
            stop.cancel();
            tasks.wait().await;
        }
        if let Some(guard) = self.guard.take()
            && let Err(error) = guard.release().await
        {
            warn!(%error, "releasing the leader lock failed; it ends with its connection or lease");
        }
    }
}

impl<Tx: ?Sized + 'static> Service for Leader<Tx> {
    const NAME: &'static str = "leader";

    fn interval(&self) -> Duration {
        self.shared.config.leader_ttl / 3
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        if let Some(guard) = &self.guard {
            if guard.is_held().await {
                return Ok(0);
            }
            warn!(worker = %self.shared.worker, "leadership lost; stopping leader-only services");
            self.step_down().await;
        }
        let lock = Lock::new(
            self.shared.locks.clone(),
            LEADER_LOCK.to_owned(),
            self.shared.worker.as_uuid(),
        )
        .ttl(self.shared.config.leader_ttl);
        let Some(guard) = lock.acquire_unchecked(Duration::ZERO).await? else {
            return Ok(0);
        };
        info!(worker = %self.shared.worker, term = guard.token(), "elected leader");
        self.guard = Some(guard);
        self.start_term();
        Ok(1)
    }

    async fn stop(&mut self) {
        self.step_down().await;
    }
}
