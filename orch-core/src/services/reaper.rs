//! The reaper (leader only): takes back commands whose lease expired (their worker
//! crashed, hung or lost its database connection), counting the attempt as failed with
//! `lease_expired`. Every few minutes it also prunes processed inbox entries past
//! `inbox_retention`.
//!
//! Each recovery is a fenced rescue on the expired lease's token that applies only while
//! the lease is still expired by the database's clock, so a heartbeat that renews in the
//! meantime wins, and two reapers (a leader and one that lost its lock but has not seen it
//! yet) never recover one command twice.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

use super::Service;
use crate::failure::FailureKind;
use crate::outcome::failed_attempt;
use crate::shared::Shared;
use crate::store::Finish;

/// Most expired commands recovered per statement.
const BATCH: u32 = 100;

const MESSAGE: &str =
    "lease expired: the worker holding it stopped renewing it (crashed, hung or cut off)";

/// The reaper service.
pub(crate) struct Reaper<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
    /// When processed inbox entries were last pruned.
    pub(crate) last_inbox_prune: Option<std::time::Instant>,
}

/// Time between prunings of processed inbox entries.
const INBOX_PRUNE_EVERY: Duration = Duration::from_secs(300);

impl<Tx: ?Sized + 'static> Service for Reaper<Tx> {
    const NAME: &'static str = "reaper";

    fn interval(&self) -> Duration {
        self.shared.config.reaper_interval
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        if self
            .last_inbox_prune
            .is_none_or(|at| at.elapsed() >= INBOX_PRUNE_EVERY)
        {
            self.last_inbox_prune = Some(std::time::Instant::now());
            let pruned = self
                .shared
                .store
                .inbox()
                .prune(self.shared.config.inbox_retention)
                .await?;
            if pruned > 0 {
                info!(
                    pruned,
                    "deleted processed inbox entries past their retention"
                );
            }
        }
        let n = reap(&self.shared).await?;
        if n > 0 {
            info!(
                recovered = n,
                "reaper recovered commands with expired leases"
            );
        }
        Ok(n)
    }
}

/// Recovers every expired lease; returns how many commands were recovered.
pub(crate) async fn reap<Tx: ?Sized + 'static>(shared: &Shared<Tx>) -> crate::Result<usize> {
    let mut total = 0;
    loop {
        let expired = shared.commands().find_expired(BATCH).await?;
        let full = expired.len() == BATCH as usize;
        if expired.is_empty() {
            return Ok(total);
        }
        let batch: Vec<Finish> = expired
            .iter()
            .map(|cmd| {
                let entry = shared.registry.entry(&cmd.name);
                failed_attempt(
                    shared,
                    entry,
                    cmd,
                    FailureKind::LeaseExpired,
                    MESSAGE.to_owned(),
                )
            })
            .collect();
        let applied = shared.commands().rescue_expired(&batch).await?;
        let n = applied.into_iter().filter(|ok| *ok).count();
        debug!(found = batch.len(), recovered = n, "reaper batch");
        total += n;
        if !full {
            return Ok(total);
        }
    }
}
