//! Writing end-of-attempt transitions so that one row the database refuses never holds
//! back the others.
//!
//! A batch the database rejects for what it holds ([`StoreErrorKind::Rejected`]: a value a
//! column, constraint or trigger does not accept, a statement over the server's size limit)
//! is halved until the rejected finishes are found; every other finish is written once.
//! Each rejected finish is replaced by a failed attempt of kind
//! [`FailureKind::Refused`] that names the cause (dead, with its `on_failure` follow-ups
//! when this process knows the command type), then, if that is refused too, by a bare
//! `dead` transition without follow-ups. A finish refused even then is reported as
//! unmovable: its row stays as it is, and the caller keeps clear of it.
//!
//! Other errors are returned unchanged: transient ones are the caller's to retry, and an
//! error that is not about the rows (a missing table, a syntax error) must never turn
//! results into failed attempts.

use std::sync::Arc;

use tracing::{error, warn};

use super::Shared;
use crate::failure::{Failure, FailureKind};
use crate::id::{CommandId, LeaseToken};
use crate::outcome::failed_attempt;
use crate::store::{ClaimedCommand, Finish, FinishOutcome, StoreError, StoreErrorKind};

/// Which fenced transition a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// A worker records its own attempts ([`crate::store::CommandStore::finish`]).
    Finish,
    /// The reaper takes back expired leases
    /// ([`crate::store::CommandStore::rescue_expired`]).
    Rescue,
}

/// What a write did.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// For each finish of the batch, in order, whether it (or its replacement) applied.
    pub(crate) applied: Vec<bool>,
    /// Finishes the database refused in every form: their rows were left as they were.
    pub(crate) unmovable: Vec<CommandId>,
    /// How many finishes were replaced by a `refused` failed attempt.
    pub(crate) refused: usize,
}

/// Finds the claimed command an attempt belongs to (to compute its `on_failure`
/// follow-ups), if this process still knows it.
pub(crate) type Lookup<'a> =
    &'a (dyn Fn(CommandId, LeaseToken) -> Option<Arc<ClaimedCommand>> + Send + Sync);

/// Longest cause quoted in a `refused` attempt's message.
const MAX_CAUSE_BYTES: usize = 1024;

/// Writes `batch` through `transition`, isolating the finishes the database rejects.
///
/// # Errors
/// Any error that is not a rejection of particular rows, as the store returned it.
pub(crate) async fn write<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    batch: &[Finish],
    transition: Transition,
    lookup: Lookup<'_>,
) -> Result<Written, StoreError> {
    let mut written = Written::default();
    isolate(shared, batch, transition, lookup, &mut written).await?;
    Ok(written)
}

async fn call<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    batch: &[Finish],
    transition: Transition,
) -> Result<Vec<bool>, StoreError> {
    match transition {
        Transition::Finish => shared.commands().finish(batch).await,
        Transition::Rescue => shared.commands().rescue_expired(batch).await,
    }
}

/// Writes `batch`, halving it on a rejection until each rejected finish stands alone.
fn isolate<'a, Tx: ?Sized + 'static>(
    shared: &'a Shared<Tx>,
    batch: &'a [Finish],
    transition: Transition,
    lookup: Lookup<'a>,
    written: &'a mut Written,
) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
    Box::pin(async move {
        let result = match too_big(shared, batch) {
            Some(error) => Err(error),
            None => call(shared, batch, transition).await,
        };
        match result {
            Ok(applied) => {
                written.applied.extend(applied);
                Ok(())
            }
            Err(error) if error.kind() == StoreErrorKind::Rejected => {
                if let [finish] = batch {
                    replace(shared, finish, transition, lookup, &error, written).await
                } else {
                    let (left, right) = batch.split_at(batch.len() / 2);
                    isolate(shared, left, transition, lookup, written).await?;
                    isolate(shared, right, transition, lookup, written).await
                }
            }
            Err(error) => Err(error),
        }
    })
}

/// A rejection, without sending anything, of a batch holding a finish larger than the
/// server can take in one statement at all (see
/// [`Store::max_row_bytes`](crate::store::Store::max_row_bytes)): sent, it would fail as a
/// reset connection, retried as if transient, instead of being isolated.
fn too_big<Tx: ?Sized + 'static>(shared: &Shared<Tx>, batch: &[Finish]) -> Option<StoreError> {
    let max = shared.store.max_row_bytes()?;
    let size = batch.iter().map(weight).find(|size| *size > max)?;
    Some(StoreError::new(
        StoreErrorKind::Rejected,
        format!(
            "a result of about {size} bytes does not fit in one statement of the server \
             (at most {max} bytes for one value: raise MySQL/MariaDB's `max_allowed_packet`)"
        ),
        None,
    ))
}

/// The bytes a finish adds to its statement, roughly.
pub(crate) fn weight(finish: &Finish) -> usize {
    use crate::store::FinishOutcome;
    let own = match &finish.outcome {
        FinishOutcome::Succeeded { output } => output.len(),
        FinishOutcome::Retry { failure, .. } | FinishOutcome::Dead { failure } => {
            failure.message.len()
        }
        _ => 0,
    };
    own + 256
        + finish
            .follow_ups
            .iter()
            .map(|f| f.input.len() + 256)
            .sum::<usize>()
}

/// Records a finish the database refused as a `refused` failed attempt, or failing that,
/// as a bare `dead` transition; reports it unmovable when even that is refused.
async fn replace<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    finish: &Finish,
    transition: Transition,
    lookup: Lookup<'_>,
    cause: &StoreError,
    written: &mut Written,
) -> Result<(), StoreError> {
    let message = format!(
        "the database refused to record this attempt's {}: {}",
        what_was_refused(finish),
        printable(&cause.to_string(), MAX_CAUSE_BYTES)
    );
    warn!(command.id = %finish.id, %message, "result refused; recording the attempt as refused");
    let claimed = lookup(finish.id, finish.lease);
    let attempt = claimed
        .as_ref()
        .map_or_else(|| attempt_of(finish), |cmd| cmd.attempt);
    let mut tries = Vec::with_capacity(2);
    if let Some(cmd) = &claimed {
        let entry = shared.registry.entry(&cmd.name);
        tries.push(failed_attempt(
            shared,
            entry,
            cmd,
            FailureKind::Refused,
            message.clone(),
        ));
    }
    // The last resort carries no follow-ups and a message of printable ASCII only.
    tries.push(Finish {
        id: finish.id,
        lease: finish.lease,
        outcome: FinishOutcome::Dead {
            failure: Failure {
                kind: FailureKind::Refused,
                message: ascii(&message),
                attempt,
            },
        },
        follow_ups: Vec::new(),
    });
    for replacement in &tries {
        match call(shared, std::slice::from_ref(replacement), transition).await {
            Ok(applied) => {
                written.applied.extend(applied);
                written.refused += 1;
                return Ok(());
            }
            Err(error) if error.kind() == StoreErrorKind::Rejected => {
                warn!(command.id = %finish.id, %error, "the database refused the refused attempt's record too");
            }
            Err(error) => return Err(error),
        }
    }
    error!(command.id = %finish.id, "the database refuses every change to this command's row; leaving it as it is (fix the row or the constraint that refuses it)");
    written.applied.push(false);
    written.unmovable.push(finish.id);
    Ok(())
}

/// The part of a finish that the database most likely refused, for the message.
fn what_was_refused(finish: &Finish) -> String {
    let follow_ups = if finish.follow_ups.is_empty() {
        String::new()
    } else {
        format!(" or its {} follow-up(s)", finish.follow_ups.len())
    };
    let own = match &finish.outcome {
        FinishOutcome::Succeeded { output } => format!("output ({} bytes)", output.len()),
        FinishOutcome::Retry { failure, .. } | FinishOutcome::Dead { failure } => {
            format!("error ({} bytes)", failure.message.len())
        }
        _ => "release".to_owned(),
    };
    format!("{own}{follow_ups}")
}

fn attempt_of(finish: &Finish) -> u32 {
    match &finish.outcome {
        FinishOutcome::Retry { failure, .. } | FinishOutcome::Dead { failure } => failure.attempt,
        _ => 0,
    }
}

/// `text` without control characters, cut at a character boundary once it reaches `max`
/// bytes (then ending in `...`).
fn printable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            out.push_str("...");
            break;
        }
        out.push(c);
    }
    out
}

/// `text` with every character outside printable ASCII replaced by `?`.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_control_characters_and_cuts_at_a_boundary() {
        assert_eq!(printable("a\0b\nc", 100), "a b c");
        assert_eq!(printable("ééé", 4), "éé...");
    }

    #[test]
    fn ascii_replaces_everything_else() {
        assert_eq!(ascii("é\0x"), "??x");
    }
}
