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
use crate::id::CommandId;
use crate::outcome::{LEASE_EXPIRED, failed_attempt};
use crate::shared::Shared;
use crate::shared::record::{self, Transition};
use crate::store::{ClaimedCommand, Finish, FinishOutcome};

/// Most expired commands recovered per statement.
const BATCH: u32 = 100;

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

/// Most rows the reaper remembers as unmovable (refused by the database in every form);
/// past this, the oldest are tried again.
const MAX_UNMOVABLE: usize = 1_000;

/// Recovers every expired lease; returns how many commands were recovered.
///
/// Rows the database refuses to change in any form are remembered (on `shared`) and left
/// out of later searches, so they never stop the recovery of the rows behind them.
pub(crate) async fn reap<Tx: ?Sized + 'static>(shared: &Shared<Tx>) -> crate::Result<usize> {
    let mut total = 0;
    loop {
        let skip: Vec<CommandId> = shared.unmovable().iter().copied().collect();
        let expired: Vec<Arc<ClaimedCommand>> = shared
            .commands()
            .find_expired(BATCH, &skip)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        let full = expired.len() == BATCH as usize;
        if expired.is_empty() {
            return Ok(total);
        }
        let batch: Vec<Finish> = expired
            .iter()
            .map(|cmd| {
                let entry = shared.registry.entry(&cmd.name);
                let finish = failed_attempt(
                    shared,
                    entry,
                    cmd,
                    FailureKind::LeaseExpired,
                    LEASE_EXPIRED.to_owned(),
                );
                match finish.outcome {
                    // Only the command type knows its `on_failure` follow-ups, and this
                    // process does not have it: back to pending at once, for an engine
                    // that serves the name to record it dead with its follow-ups
                    // (`outcome::exhausted`) instead of running it again.
                    FinishOutcome::Dead { failure } if entry.is_none() => Finish {
                        outcome: FinishOutcome::Retry {
                            failure,
                            delay: Duration::ZERO,
                        },
                        ..finish
                    },
                    _ => finish,
                }
            })
            .collect();
        let lookup = |id, lease| {
            expired
                .iter()
                .find(|cmd| cmd.id == id && cmd.lease == lease)
                .cloned()
        };
        let written = record::write(shared, &batch, Transition::Rescue, &lookup).await?;
        if !written.unmovable.is_empty() {
            let mut unmovable = shared.unmovable();
            if unmovable.len() + written.unmovable.len() > MAX_UNMOVABLE {
                unmovable.clear();
            }
            unmovable.extend(written.unmovable);
        }
        let n = written.applied.into_iter().filter(|ok| *ok).count();
        debug!(
            found = batch.len(),
            recovered = n,
            refused = written.refused,
            "reaper batch"
        );
        total += n;
        if !full {
            return Ok(total);
        }
    }
}
