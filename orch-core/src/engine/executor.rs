//! One attempt: run the handler under its timeout and cancellation token, catch panics,
//! and turn the outcome into a fenced [`Finish`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

use super::completer::Done;
use crate::context::Ctx;
use crate::failure::FailureKind;
use crate::outcome::{exhausted, failed_attempt};
use crate::registry::{Entry, RunOutcome};
use crate::shared::Shared;
use crate::shared::inflight::{Slot, StopReason};
use crate::store::{ClaimedCommand, Finish, FinishOutcome};

/// How the attempt ended, before retry policy is applied.
enum Ended {
    Ran(RunOutcome),
    Failed(FailureKind, String),
    Stopped(StopReason),
}

/// Runs one claimed command and sends its finish (if any) to the completer.
pub(crate) async fn execute<Tx: ?Sized + 'static>(
    shared: Arc<Shared<Tx>>,
    entry: Entry,
    cmd: Arc<ClaimedCommand>,
    slot: Slot,
    done: UnboundedSender<Done>,
    unwritten: OwnedSemaphorePermit,
) {
    if cmd.attempt > cmd.max_attempts {
        let finish = exhausted(&shared, Some(&entry), &cmd);
        let _ = done.send(Done {
            finish,
            unwritten: Some(unwritten),
        });
        return;
    }
    let ctx = Ctx {
        id: cmd.id,
        name: entry.command.name(),
        attempt: cmd.attempt,
        max_attempts: cmd.max_attempts,
        deadline: slot.deadline,
        cancel: slot.cancel.clone(),
        state: shared.state.clone(),
    };
    let ended = {
        let run = AssertUnwindSafe(entry.handler.run(&cmd.input, &ctx)).catch_unwind();
        tokio::select! {
            biased;
            result = run => match result {
                Ok(outcome) => Ended::Ran(outcome),
                Err(panic) => Ended::Failed(FailureKind::Panicked, panic_message(panic.as_ref())),
            },
            () = slot.abort.cancelled() => Ended::Stopped(slot.stop.get()),
            () = tokio::time::sleep_until(slot.deadline) => {
                slot.cancel.cancel();
                Ended::Failed(
                    FailureKind::TimedOut,
                    format!("attempt ran past its timeout of {:?}", cmd.timeout),
                )
            }
        }
    };
    // A handler that returns (rather than being dropped) after its token fired from outside
    // is judged by why the token fired: at shutdown its command is released, after a cancel
    // or a lost lease the row is no longer this attempt's to change. A success is still
    // offered to the store, whose fence decides.
    let ended = match (slot.stop.get(), ended) {
        (_, ended @ Ended::Ran(RunOutcome::Succeeded { .. })) | (StopReason::None, ended) => ended,
        (reason, _) => Ended::Stopped(reason),
    };
    let finish = match ended {
        Ended::Ran(RunOutcome::Succeeded { output, .. })
            if output.len() > shared.config.max_output_bytes =>
        {
            Some(failed_attempt(
                &shared,
                Some(&entry),
                &cmd,
                FailureKind::Fatal,
                format!(
                    "output of `{}` is {} bytes, above the limit of {} bytes (raise `max_output_bytes` if this is intended)",
                    cmd.name,
                    output.len(),
                    shared.config.max_output_bytes
                ),
            ))
        }
        Ended::Ran(RunOutcome::Succeeded { output, follow_ups }) => {
            match shared.resolve_follow_ups(cmd.id, follow_ups) {
                Ok(follow_ups) => Some(Finish {
                    id: cmd.id,
                    lease: cmd.lease,
                    outcome: FinishOutcome::Succeeded { output },
                    follow_ups,
                }),
                Err(message) => Some(failed_attempt(
                    &shared,
                    Some(&entry),
                    &cmd,
                    FailureKind::Fatal,
                    message,
                )),
            }
        }
        Ended::Ran(RunOutcome::Failed { kind, message }) | Ended::Failed(kind, message) => {
            Some(failed_attempt(&shared, Some(&entry), &cmd, kind, message))
        }
        Ended::Stopped(StopReason::Shutdown) => Some(Finish {
            id: cmd.id,
            lease: cmd.lease,
            outcome: FinishOutcome::Release,
            follow_ups: Vec::new(),
        }),
        Ended::Stopped(reason) => {
            debug!(command.id = %cmd.id, command.name = %cmd.name, ?reason, "attempt stopped");
            shared.inflight.remove(cmd.id, cmd.lease);
            None
        }
    };
    if let Some(finish) = finish
        && done
            .send(Done {
                finish,
                unwritten: Some(unwritten),
            })
            .is_err()
    {
        warn!(command.id = %cmd.id, "completer is gone; the lease will expire and be reaped");
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned());
    format!("handler panicked: {detail}")
}
