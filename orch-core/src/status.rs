//! The states a command row moves through, and which moves are allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a command is in its life cycle.
///
/// ```text
/// pending ──claim──▶ running ──▶ succeeded
///    ▲                  │  ├──▶ pending (failed attempt, attempts left; run_at = now + backoff)
///    │                  │  └──▶ dead (no attempts left, or a permanent failure)
///    └── reaper: lease expired ◀┘
/// pending/running ──cancel──▶ canceled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandStatus {
    /// Waiting until its `run_at`, then for a worker that serves its name and target.
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// The handler returned successfully; the output is stored.
    Succeeded,
    /// Failed for good: attempts exhausted or a permanent error. Kept with its errors.
    Dead,
    /// Canceled before it finished.
    Canceled,
}

impl CommandStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [CommandStatus; 5] = [
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Dead,
        Self::Canceled,
    ];

    /// The name stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Canceled => "canceled",
        }
    }

    /// Whether no further transition can happen.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Canceled)
    }

    /// Whether `self → next` is a move the engine ever makes.
    pub const fn can_move_to(self, next: CommandStatus) -> bool {
        use CommandStatus::{Canceled, Dead, Pending, Running, Succeeded};
        matches!(
            (self, next),
            (Pending, Running | Canceled | Dead) | (Running, Succeeded | Pending | Dead | Canceled)
        )
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of [`CommandStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown command status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for CommandStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::CommandStatus::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in CommandStatus::ALL {
            assert_eq!(st.as_str().parse::<CommandStatus>(), Ok(st));
        }
        assert!("done".parse::<CommandStatus>().is_err());
    }

    #[test]
    fn terminal_states_never_move() {
        for from in [Succeeded, Dead, Canceled] {
            for to in CommandStatus::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to}");
            }
        }
        assert!(Pending.can_move_to(Running));
        assert!(Running.can_move_to(Pending));
        assert!(!Pending.can_move_to(Succeeded));
    }
}
