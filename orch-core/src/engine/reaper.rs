//! The reaper: takes back commands whose lease expired (their worker crashed, hung or lost
//! its database connection), counting the attempt as failed with `lease_expired`.
//!
//! Each recovery is a fenced finish on the expired lease's token that applies only while
//! the lease is still expired by the database's clock, so a heartbeat that renews in the
//! meantime wins, and two reapers never recover one command twice.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::executor::failed;
use super::shared::Shared;
use crate::failure::FailureKind;
use crate::store::{Finish, FinishOutcome};

/// Most expired commands recovered per statement.
const BATCH: u32 = 100;

pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(shared.config.reaper_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                match run_once(&shared).await {
                    Ok(0) => {}
                    Ok(n) => info!(recovered = n, "reaper recovered commands with expired leases"),
                    Err(error) => warn!(%error, "reaper pass failed"),
                }
            }
        }
    }
}

/// Recovers every expired lease; returns how many commands were recovered.
pub(crate) async fn run_once(shared: &Shared) -> crate::Result<usize> {
    let mut total = 0;
    loop {
        let expired = shared.store.expired(BATCH).await?;
        let full = expired.len() == BATCH as usize;
        if expired.is_empty() {
            return Ok(total);
        }
        let batch: Vec<Finish> = expired
            .iter()
            .map(|cmd| {
                let message = "lease expired: the worker holding it stopped renewing it (crashed, hung or cut off)".to_owned();
                let mut finish = match shared.registry.entry(&cmd.name) {
                    Some(entry) => failed(shared, entry, cmd, FailureKind::LeaseExpired, message),
                    None => unknown_name_finish(shared, cmd, message),
                };
                finish.only_if_expired = true;
                finish
            })
            .collect();
        let applied = shared.store.finish(&batch).await?;
        let n = applied.into_iter().filter(|ok| *ok).count();
        debug!(found = batch.len(), recovered = n, "reaper batch");
        total += n;
        if !full {
            return Ok(total);
        }
    }
}

/// A command this process has no handler for: retry or dead, without follow-ups.
fn unknown_name_finish(
    shared: &Shared,
    cmd: &crate::store::ClaimedCommand,
    message: String,
) -> Finish {
    let failure = crate::failure::Failure {
        kind: FailureKind::LeaseExpired,
        message,
        attempt: cmd.attempt,
    };
    let outcome = if cmd.attempt < cmd.max_attempts {
        FinishOutcome::Retry {
            failure,
            delay: shared.config.retry_policy(&cmd.name).delay(cmd.attempt),
        }
    } else {
        FinishOutcome::Dead { failure }
    };
    Finish {
        id: cmd.id,
        lease: cmd.lease,
        outcome,
        follow_ups: Vec::new(),
        only_if_expired: true,
    }
}
