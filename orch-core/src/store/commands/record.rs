//! [`CommandRecord`]: a command row as read back for inspection.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::failure::FailureKind;
use crate::id::CommandId;
use crate::status::CommandStatus;

/// A command as stored: status, attempts, errors, output.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRecord {
    /// Its id.
    pub id: CommandId,
    /// Its name.
    pub name: String,
    /// The instance key it is routed to.
    pub target: String,
    /// Where it is in its life cycle.
    pub status: CommandStatus,
    /// The JSON payload.
    pub input: String,
    /// The JSON output of a successful run.
    pub output: Option<String>,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// The timeout of one attempt.
    pub timeout: Duration,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    /// When it was inserted.
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the current lease expires, while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The message of the latest failed attempt.
    pub last_error: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
    /// The command whose finish enqueued it.
    pub parent_id: Option<CommandId>,
    /// Every failed attempt, oldest first.
    pub errors: Vec<AttemptError>,
}

/// One recorded failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptError {
    /// The attempt number.
    pub attempt: u32,
    /// How it failed (`timed_out`, `panicked`, …).
    pub kind: FailureKind,
    /// The message.
    pub message: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The output could not be read as the requested type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The command has no output (not succeeded).
    #[error("command {id} has no output (status {status})")]
    Missing {
        /// The command.
        id: CommandId,
        /// Its status.
        status: CommandStatus,
    },
    /// The stored output does not deserialize into the requested type.
    #[error("output of command {id} does not deserialize: {source}")]
    Decode {
        /// The command.
        id: CommandId,
        /// The decode error.
        source: serde_json::Error,
    },
}

impl CommandRecord {
    /// The output decoded as `T` (usually the command's `Output`).
    ///
    /// # Example
    /// ```no_run
    /// # fn f(rec: orch_core::CommandRecord) -> Result<(), orch_core::OutputError> {
    /// let total: i64 = rec.output_as()?;
    /// # Ok(()) }
    /// ```
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<T, OutputError> {
        let raw = self.output.as_deref().ok_or(OutputError::Missing {
            id: self.id,
            status: self.status,
        })?;
        serde_json::from_str(raw).map_err(|source| OutputError::Decode {
            id: self.id,
            source,
        })
    }
}
