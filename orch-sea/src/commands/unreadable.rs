//! Rows a claim or the reaper's search took but cannot decode (text that is not valid
//! UTF-8, a value of the wrong type: written by hand, by another program or a newer
//! version). No engine can run such a row, and leaving it `running` would hand it to the
//! reaper again and again, so each is recorded `dead` at once, fenced on its id and the
//! lease it was found under, with a `decode` attempt error naming the row and what could
//! not be read. The rows around it are returned as usual. A row whose id (or, for the
//! reaper, lease token) cannot be read either cannot be fenced: it is only logged.
//!
//! The dead rows are written after the claim commits, through the ordinary fenced finish,
//! so rows that decode cost nothing extra and a failure here never fails the claim (the
//! row is then left to the reaper, which tries again when its lease expires).

use orch_core::store::{ClaimedCommand, Finish, FinishOutcome, StoreError};
use orch_core::{CommandId, Failure, FailureKind, LeaseToken};
use sea_orm::QueryResult;
use tracing::warn;

use super::finish::{self, Fence};
use crate::store::Inner;

/// What fences a row found under a lease: its id, the lease, and its attempt number (0
/// when even that cannot be read).
pub(crate) struct Key {
    /// The row's id.
    pub(crate) id: CommandId,
    /// The lease it was found under.
    pub(crate) lease: LeaseToken,
    /// The attempt the lease is for.
    pub(crate) attempt: u32,
}

/// A row found under a lease that cannot be decoded, with what it takes to fence it.
pub(crate) struct Unreadable {
    key: Key,
    error: StoreError,
}

impl Unreadable {
    /// The row's id.
    pub(crate) fn id(&self) -> CommandId {
        self.key.id
    }
}

/// Rows taken under a lease: those that decode, and those that do not.
#[derive(Default)]
pub(crate) struct Decoded {
    /// The rows that decode, in the order read.
    pub(crate) commands: Vec<ClaimedCommand>,
    /// The rows that do not, but whose id and lease are known.
    pub(crate) unreadable: Vec<Unreadable>,
    /// PostgreSQL and SQLite claims: the earliest due time among the rows taken, readable
    /// or not (see `claim/marks.rs`).
    pub(crate) earliest_due: Option<i64>,
}

impl Decoded {
    /// Rows taken, readable or not.
    pub(crate) fn taken(&self) -> usize {
        self.commands.len() + self.unreadable.len()
    }

    /// These rows and `more`'s, as one claim's.
    pub(crate) fn and(mut self, more: Self) -> Self {
        self.commands.extend(more.commands);
        self.unreadable.extend(more.unreadable);
        self.earliest_due = match (self.earliest_due, more.earliest_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }
}

/// Decodes `rows` with `decode`, setting apart those that cannot be decoded with their
/// [`Key`] (read by `key`); a row whose key cannot be read either is logged and left out.
/// `what` names the operation for the log (e.g. "claim due commands").
pub(crate) fn split(
    rows: &[QueryResult],
    what: &str,
    decode: impl Fn(&QueryResult) -> Result<ClaimedCommand, StoreError>,
    key: impl Fn(&QueryResult) -> Result<Key, StoreError>,
) -> Decoded {
    let mut decoded = Decoded::default();
    for row in rows {
        match decode(row) {
            Ok(command) => decoded.commands.push(command),
            Err(error) => match key(row) {
                Ok(key) => decoded.unreadable.push(Unreadable { key, error }),
                Err(key_error) => warn!(
                    %error,
                    %key_error,
                    "{what}: left out a row that cannot be read, not even its id and lease"
                ),
            },
        }
    }
    decoded
}

/// Records every row of `rows` dead (fenced on its id and lease, and on `fence`), with an
/// error naming it; logs each one recorded, and anything that could not be (best effort:
/// the row's lease then expires and the reaper tries again).
pub(crate) async fn record_dead(store: &Inner, rows: &[Unreadable], fence: Fence) {
    if rows.is_empty() {
        return;
    }
    let batch: Vec<Finish> = rows
        .iter()
        .map(|row| Finish {
            id: row.key.id,
            lease: row.key.lease,
            outcome: FinishOutcome::Dead {
                failure: Failure {
                    kind: FailureKind::Decode,
                    message: format!(
                        "unreadable row: command {} cannot be decoded, so it cannot run ({})",
                        row.key.id, row.error
                    ),
                    attempt: row.key.attempt,
                },
            },
            follow_ups: Vec::new(),
        })
        .collect();
    // No follow-ups, so nothing to announce: `notify` is off.
    match finish::finish(store, false, &batch, fence).await {
        Ok(applied) => {
            for (row, applied) in rows.iter().zip(applied) {
                if applied {
                    warn!(command.id = %row.key.id, error = %row.error, "recorded dead a row that cannot be decoded");
                } else {
                    warn!(command.id = %row.key.id, error = %row.error, "a row that cannot be decoded changed meanwhile; left as it is");
                }
            }
        }
        Err(error) => {
            for row in rows {
                warn!(command.id = %row.key.id, decode_error = %row.error, %error, "could not record dead a row that cannot be decoded; the reaper tries again when its lease expires");
            }
        }
    }
}
