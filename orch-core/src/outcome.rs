//! The one retry-or-dead decision, shared by the executor (a failed attempt) and the
//! reaper (an attempt whose lease expired).

use tracing::{debug, warn};

use crate::failure::{Failure, FailureKind};
use crate::registry::{Entry, Terminal};
use crate::shared::Shared;
use crate::store::{ClaimedCommand, Finish, FinishOutcome, InsertCommand};

/// The finish of a failed attempt: a retry after backoff while attempts remain and the
/// failure is retryable, otherwise dead with the command type's `on_failure` follow-ups
/// (computed from `entry`; none when this process has no handler for the name).
pub(crate) fn failed_attempt<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    entry: Option<&Entry>,
    cmd: &ClaimedCommand,
    kind: FailureKind,
    message: String,
) -> Finish {
    let failure = Failure {
        kind,
        message: shared.truncate_error(message),
        attempt: cmd.attempt,
    };
    debug!(command.id = %cmd.id, command.name = %cmd.name, attempt = cmd.attempt, %kind, "attempt failed");
    let (outcome, follow_ups) = if kind.is_retryable() && cmd.attempt < cmd.max_attempts {
        let delay = shared.config.retry_policy(&cmd.name).delay(cmd.attempt);
        (FinishOutcome::Retry { failure, delay }, Vec::new())
    } else {
        let follow_ups = entry.map_or_else(Vec::new, |entry| {
            dead_follow_ups(shared, entry, cmd, &failure)
        });
        (FinishOutcome::Dead { failure }, follow_ups)
    };
    Finish {
        id: cmd.id,
        lease: cmd.lease,
        outcome,
        follow_ups,
    }
}

/// The message of an attempt whose lease expired (recorded by the reaper).
pub(crate) const LEASE_EXPIRED: &str =
    "lease expired: the worker holding it stopped renewing it (crashed, hung or cut off)";

/// The finish of a command claimed after its attempts were used up: an engine without its
/// handler took back its last attempt (see [`failed_attempt`]) and left the dead
/// transition, with the `on_failure` follow-ups only the command type can compute, to an
/// engine that has it. The handler does not run; this claim's attempt is not counted.
///
/// Without `entry` (a work-queue claim in a process that lacks the type) it is dead with
/// no follow-ups.
pub(crate) fn exhausted<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    entry: Option<&Entry>,
    cmd: &ClaimedCommand,
) -> Finish {
    let failure = Failure {
        kind: FailureKind::LeaseExpired,
        message: LEASE_EXPIRED.to_owned(),
        attempt: cmd.max_attempts,
    };
    debug!(command.id = %cmd.id, command.name = %cmd.name, "recording a command whose attempts were used up as dead");
    let follow_ups = entry.map_or_else(Vec::new, |entry| {
        dead_follow_ups(shared, entry, cmd, &failure)
    });
    Finish {
        id: cmd.id,
        lease: cmd.lease,
        outcome: FinishOutcome::Exhausted { failure },
        follow_ups,
    }
}

fn dead_follow_ups<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    entry: &Entry,
    cmd: &ClaimedCommand,
    failure: &Failure,
) -> Vec<InsertCommand> {
    if failure.kind == FailureKind::Decode {
        return Vec::new();
    }
    let computed = catch_callback(|| {
        (entry.command.terminal_follow_ups)(&cmd.input, Terminal::Failed(failure))
    })
    .and_then(|f| shared.resolve_follow_ups(cmd.id, f));
    computed.unwrap_or_else(|message| {
        warn!(command.id = %cmd.id, command.name = %cmd.name, %message, "on_failure follow-ups dropped");
        Vec::new()
    })
}

/// The `on_cancel` follow-ups of a canceled command, from its serialized input; none when
/// this process has no handler for `name` or the callback fails (logged).
pub(crate) fn cancel_follow_ups<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    id: crate::id::CommandId,
    name: &str,
    input: &str,
) -> Vec<InsertCommand> {
    let Some(info) = shared.registry.command(name) else {
        return Vec::new();
    };
    catch_callback(|| (info.terminal_follow_ups)(input, Terminal::Canceled))
        .and_then(|f| shared.resolve_follow_ups(id, f))
        .unwrap_or_else(|message| {
            warn!(command.id = %id, command.name = %name, %message, "on_cancel follow-ups dropped");
            Vec::new()
        })
}

/// Runs a user callback (a `Chain` method, a serde impl) and turns a panic in it into an
/// error message, so no engine task or service pass dies from user code.
pub(crate) fn catch_callback<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_owned());
        Err(format!("a follow-up callback panicked: {detail}"))
    })
}
