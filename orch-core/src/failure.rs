//! What went wrong with an attempt, as recorded in the database and shown to chains.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The handler returned an error that may succeed on retry.
    Error,
    /// The handler returned an error marked permanent: no retry.
    Fatal,
    /// The attempt ran past its timeout and was stopped.
    TimedOut,
    /// The handler panicked.
    Panicked,
    /// The stored payload no longer deserializes into the command type: no retry.
    Decode,
    /// The worker holding the lease stopped renewing it (crashed or cut off) and the
    /// reaper took the command back.
    LeaseExpired,
    /// The database refused to record the attempt's result (a value a column, constraint
    /// or trigger does not accept, or a statement over the server's size limit): no retry,
    /// since the same result would be refused again. The message names the cause.
    Refused,
}

impl FailureKind {
    /// The name stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Fatal => "fatal",
            Self::TimedOut => "timed_out",
            Self::Panicked => "panicked",
            Self::Decode => "decode",
            Self::LeaseExpired => "lease_expired",
            Self::Refused => "refused",
        }
    }

    /// Parses a stored name; unknown names read as [`FailureKind::Error`].
    pub fn from_stored(s: &str) -> Self {
        match s {
            "fatal" => Self::Fatal,
            "timed_out" => Self::TimedOut,
            "panicked" => Self::Panicked,
            "decode" => Self::Decode,
            "lease_expired" => Self::LeaseExpired,
            "refused" => Self::Refused,
            _ => Self::Error,
        }
    }

    /// Whether an attempt that failed this way may be retried at all.
    pub const fn is_retryable(self) -> bool {
        !matches!(self, Self::Fatal | Self::Decode | Self::Refused)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt: its kind, its message and which attempt it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// How the attempt failed.
    pub kind: FailureKind,
    /// The error message (truncated to the engine's limit before it is stored).
    pub message: String,
    /// The attempt number, starting at 1.
    pub attempt: u32,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt {} {}: {}",
            self.attempt, self.kind, self.message
        )
    }
}
