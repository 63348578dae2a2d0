//! The crate's errors: [`Error`] for operations, [`ConfigError`] for set-up.

use crate::id::CommandId;
use crate::store::StoreError;

/// A `Result` with orch's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command did not serialize to JSON.
    #[error("command `{name}` does not serialize to JSON: {source}")]
    Serialize {
        /// The command name.
        name: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The serialized payload is larger than the configured limit (or than what one
    /// statement of the server can carry).
    #[error(
        "payload of command `{name}` is {size} bytes, above the limit of {limit} bytes \
         (`max_payload_bytes`, or what one statement of a MySQL/MariaDB server can carry \
         (`max_allowed_packet`): raise the one that applies if this is intended)"
    )]
    PayloadTooLarge {
        /// The command name.
        name: String,
        /// The payload size in bytes.
        size: usize,
        /// The limit that applies.
        limit: usize,
    },
    /// An id is known with other content (an outbox message id reused with another
    /// payload, an inbox message seen before with other content).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No command has this id.
    #[error("no command with id {0}")]
    NotFound(CommandId),
    /// A part of the engine failed unexpectedly and the engine stopped.
    #[error("the engine stopped: {0}")]
    EngineFailed(String),
}

/// The configuration is invalid; raised when the engine or store is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two command types share one name.
    #[error(
        "command name `{name}` is used by two types: `{first}` and `{second}`; \
         give one of them another name with #[orch_command(name = \"…\")]"
    )]
    DuplicateName {
        /// The shared name.
        name: &'static str,
        /// The first type.
        first: &'static str,
        /// The second type.
        second: &'static str,
    },
    /// One command type has two handlers.
    #[error(
        "command `{name}` (`{command}`) has two handlers: `{first}` and `{second}`{}",
        if *link_time { " (both registered with #[orch_handler])" } else { "" }
    )]
    DuplicateHandler {
        /// The command name.
        name: &'static str,
        /// The command type.
        command: &'static str,
        /// The first handler type.
        first: &'static str,
        /// The second handler type.
        second: &'static str,
        /// Whether the second came from a link-time registration.
        link_time: bool,
    },
    /// A setting has a value it cannot take.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why the value is refused.
        reason: String,
    },
}

impl ConfigError {
    /// An invalid setting.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
