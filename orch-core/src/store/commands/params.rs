//! One parameter struct per store call that needs more than a couple of inputs.

use std::time::Duration;

use crate::failure::Failure;
use crate::id::{CommandId, LeaseToken, WorkerId};
use crate::push::When;

/// A command ready for insertion: every default already applied.
#[derive(Debug, Clone)]
pub struct InsertCommand {
    /// The new row's id.
    pub id: CommandId,
    /// The command name.
    pub name: String,
    /// The JSON payload.
    pub input: String,
    /// The instance key it is routed to.
    pub target: String,
    /// When it becomes due.
    pub when: When,
    /// The timeout of one attempt.
    pub timeout: Duration,
    /// Attempts in all (retries + 1).
    pub max_attempts: u32,
    /// The deduplication key, unique across the table while the row exists.
    pub idempotency_key: Option<String>,
    /// The command whose finish enqueued this one.
    pub parent_id: Option<CommandId>,
}

/// Which due commands to claim, and under what lease.
#[derive(Debug, Clone)]
pub struct ClaimParams {
    /// The claiming engine.
    pub worker: WorkerId,
    /// The fencing token every claimed row gets.
    pub token: LeaseToken,
    /// Only commands with one of these names (the ones this engine has handlers for).
    pub names: Vec<String>,
    /// Only commands routed to one of these instance keys.
    pub targets: Vec<String>,
    /// At most this many rows.
    pub limit: u32,
    /// The lease lasts `min(timeout, lease_ttl) + lease_buffer` from the database's now.
    pub lease_ttl: Duration,
    /// Added to every lease beyond the timeout (Orchestratum's lock timeout buffer).
    pub lease_buffer: Duration,
}

/// A command claimed by this engine.
#[derive(Debug, Clone)]
pub struct ClaimedCommand {
    /// Its id.
    pub id: CommandId,
    /// Its name.
    pub name: String,
    /// Its JSON payload.
    pub input: String,
    /// This attempt's number, starting at 1.
    pub attempt: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// The timeout of this attempt.
    pub timeout: Duration,
    /// The lease's fencing token.
    pub lease: LeaseToken,
}

/// How an attempt ended, as recorded by [`Finish`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FinishOutcome {
    /// Succeeded with this JSON output.
    Succeeded {
        /// The JSON output.
        output: String,
    },
    /// Failed; due again after `delay` (database clock).
    Retry {
        /// What failed.
        failure: Failure,
        /// The backoff before the next attempt.
        delay: Duration,
    },
    /// Failed for good.
    Dead {
        /// What failed.
        failure: Failure,
    },
    /// Not run (shutdown): back to pending now, the attempt not counted.
    Release,
    /// Not run: the command had used up its attempts when an engine without its handler
    /// took back its last one, so it waited for an engine that can compute its
    /// `on_failure` follow-ups. Dead now, with `failure` (already recorded) as its last
    /// error; this claim's attempt is not counted and no error row is added.
    Exhausted {
        /// The last attempt's failure, as recorded when it happened.
        failure: Failure,
    },
}

/// One fenced end-of-attempt transition.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The command.
    pub id: CommandId,
    /// The lease the finishing worker holds; nothing changes unless it still matches.
    pub lease: LeaseToken,
    /// How the attempt ended.
    pub outcome: FinishOutcome,
    /// Commands inserted in the same transaction, only if the transition applies.
    pub follow_ups: Vec<InsertCommand>,
}

/// One lease to renew or check.
#[derive(Debug, Clone, Copy)]
pub struct LeaseRenewal {
    /// The command.
    pub id: CommandId,
    /// Its lease token.
    pub lease: LeaseToken,
    /// Extend the lease to now + this, or only check it when `None`.
    pub extend_by: Option<Duration>,
}

/// A cancellation request, with the follow-ups computed by the caller.
#[derive(Debug, Clone)]
pub struct CancelParams {
    /// The command.
    pub id: CommandId,
    /// `on_cancel` follow-ups, inserted in the same transaction if the cancel applies.
    pub follow_ups: Vec<InsertCommand>,
    /// Set when the caller could not compute the follow-ups (it has no handler for the
    /// command's name): if the cancel applies, the store records them as owed in the same
    /// transaction, for an engine that can to insert (see
    /// [`CommandStore::owed_follow_ups`](super::CommandStore::owed_follow_ups)).
    pub follow_ups_owed: bool,
}

/// A canceled command whose `on_cancel` follow-ups are still owed: the process that
/// canceled it had no handler for its name.
#[derive(Debug, Clone)]
pub struct OwedFollowUps {
    /// The canceled command.
    pub id: CommandId,
    /// Its name.
    pub name: String,
    /// Its serialized input, from which the follow-ups are computed.
    pub input: String,
}

/// What a cancellation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The command was pending and is now canceled.
    CanceledPending,
    /// The command was running and is now canceled; its worker is told at its next lease
    /// check (at once when the worker is in this process).
    CanceledRunning,
    /// The command had already finished with this status; nothing changed.
    AlreadyFinished(crate::status::CommandStatus),
    /// No command has this id.
    NotFound,
}

/// Which commands a listing returns.
///
/// # Example
/// ```
/// use orch_core::{CommandStatus, ListFilter};
/// let dead = ListFilter::new().status(CommandStatus::Dead).limit(50);
/// # let _ = dead;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<crate::status::CommandStatus>,
    /// Only this command name.
    pub name: Option<String>,
    /// Only follow-ups of this command.
    pub parent: Option<CommandId>,
    /// At most this many (default 100, capped at 10,000).
    pub limit: Option<u32>,
}

impl ListFilter {
    /// Every command (up to the default limit).
    pub fn new() -> Self {
        Self::default()
    }
    /// Only this status.
    pub fn status(mut self, status: crate::status::CommandStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Only follow-ups of `parent`.
    pub fn parent(mut self, parent: CommandId) -> Self {
        self.parent = Some(parent);
        self
    }
    /// At most `limit` rows.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// The effective limit.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(100).min(10_000)
    }
}
