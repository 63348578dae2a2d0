//! [`CommandQueue`]: the work-queue API on commands, for callers that drive processing
//! themselves instead of registering a handler: `claim`, `ack`, `abandon`, `fail`,
//! `reap_expired`, each fenced by an [`OwnerToken`].
//!
//! A claim takes due pending commands of the given names (routed to this handle's
//! instance keys) for the owner, under a lease of `min(lease, command timeout)` by the
//! database's clock, and counts an attempt. Only the owner, and only before its lease
//! expires, can settle them: `ack` records success (output `null`), `abandon` puts them
//! back at once without counting the attempt, `fail` records a failed attempt (retried
//! with the command's backoff, or dead when its attempts are spent). Commands whose owner
//! died come back through `reap_expired` (or the leader's reaper) exactly once.
//! `on_success` chains need a typed output and so run only for engine-run handlers;
//! `on_failure` follow-ups are computed when this process has the command type registered.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, Result};
use crate::failure::FailureKind;
use crate::id::{CommandId, LeaseToken, WorkerId};
use crate::outbox::OwnerToken;
use crate::shared::Shared;
use crate::store::{ClaimParams, ClaimedCommand, Finish, FinishOutcome};

/// Longest lease a claim may ask for.
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// The work-queue API on commands (from `Orch::command_queue`). Cheap to clone.
pub struct CommandQueue<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Clone for CommandQueue<Tx> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for CommandQueue<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandQueue").finish_non_exhaustive()
    }
}

impl<Tx: ?Sized + 'static> CommandQueue<Tx> {
    pub(crate) fn new(shared: Arc<Shared<Tx>>) -> Self {
        Self { shared }
    }

    /// Claims up to `batch` due commands named one of `names` for `owner`.
    ///
    /// # Errors
    /// No names, `lease` zero or over a day, `batch` zero or over 10,000, or the database
    /// failed.
    pub async fn claim(
        &self,
        owner: OwnerToken,
        names: &[&str],
        lease: Duration,
        batch: u32,
    ) -> Result<Vec<ClaimedCommand>> {
        if names.is_empty() {
            return Err(ConfigError::invalid("names", "claim at least one command name").into());
        }
        if lease.is_zero() || lease > MAX_LEASE {
            return Err(ConfigError::invalid(
                "lease",
                format!("{lease:?} is not within 1 ms–24 h"),
            )
            .into());
        }
        if batch == 0 || batch > 10_000 {
            return Err(
                ConfigError::invalid("batch", format!("{batch} is not within 1–10000")).into(),
            );
        }
        let params = ClaimParams {
            worker: WorkerId::from_uuid(owner.as_uuid()),
            token: LeaseToken::from_uuid(owner.as_uuid()),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            targets: self.shared.config.instance_keys.clone(),
            limit: batch,
            lease_ttl: lease,
            lease_buffer: Duration::ZERO,
        };
        let (spent, claimed): (Vec<_>, Vec<_>) = self
            .shared
            .commands()
            .claim(&params)
            .await?
            .into_iter()
            .partition(|cmd| cmd.attempt > cmd.max_attempts);
        // Commands whose last attempt a reaper without their type took back: dead now
        // (with `on_failure` follow-ups when this process has the type), not handed out.
        let spent: Vec<Finish> = spent
            .iter()
            .map(|cmd| {
                crate::outcome::exhausted(&self.shared, self.shared.registry.entry(&cmd.name), cmd)
            })
            .collect();
        self.settle(spent).await?;
        Ok(claimed)
    }

    async fn settle(&self, batch: Vec<Finish>) -> Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let applied = self.shared.commands().settle_live(&batch).await?;
        self.shared.wake.notify_one();
        Ok(applied.into_iter().filter(|ok| *ok).count() as u64)
    }

    /// Records success (output `null`) for commands `owner` holds; returns how many it
    /// still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn ack(&self, owner: OwnerToken, ids: &[CommandId]) -> Result<u64> {
        let lease = LeaseToken::from_uuid(owner.as_uuid());
        self.settle(
            ids.iter()
                .map(|id| Finish {
                    id: *id,
                    lease,
                    outcome: FinishOutcome::Succeeded {
                        output: "null".to_owned(),
                    },
                    follow_ups: Vec::new(),
                })
                .collect(),
        )
        .await
    }

    /// Puts commands `owner` holds back to pending at once, the attempt not counted;
    /// returns how many it still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn abandon(&self, owner: OwnerToken, ids: &[CommandId]) -> Result<u64> {
        let lease = LeaseToken::from_uuid(owner.as_uuid());
        self.settle(
            ids.iter()
                .map(|id| Finish {
                    id: *id,
                    lease,
                    outcome: FinishOutcome::Release,
                    follow_ups: Vec::new(),
                })
                .collect(),
        )
        .await
    }

    /// Records a failed attempt of commands `owner` holds: retried after the command's
    /// backoff, or dead when its attempts are spent. Returns how many it still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn fail(&self, owner: OwnerToken, ids: &[CommandId], error: &str) -> Result<u64> {
        let lease = LeaseToken::from_uuid(owner.as_uuid());
        let mut batch = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(record) = self.shared.commands().get(*id).await? else {
                continue;
            };
            let claimed = ClaimedCommand {
                id: record.id,
                name: record.name,
                input: record.input,
                attempt: record.attempts,
                max_attempts: record.max_attempts,
                timeout: record.timeout,
                lease,
            };
            let entry = self.shared.registry.entry(&claimed.name);
            batch.push(crate::outcome::failed_attempt(
                &self.shared,
                entry,
                &claimed,
                FailureKind::Error,
                error.to_owned(),
            ));
        }
        self.settle(batch).await
    }

    /// Recovers every command whose lease expired (its owner died or stalled), now;
    /// returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn reap_expired(&self) -> Result<usize> {
        crate::services::reaper::reap(&self.shared).await
    }
}
