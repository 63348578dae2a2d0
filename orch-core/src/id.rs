//! Identifiers: command ids (uuid v7, time-ordered), worker ids and lease tokens.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, unique, time-ordered (uuid v7) value.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing uuid.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The uuid inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_newtype!(
    /// The id of one command row. A uuid v7, so ids sort by creation time.
    ///
    /// # Example
    /// ```
    /// let a = orch_core::CommandId::new();
    /// let b = orch_core::CommandId::new();
    /// assert!(a < b);
    /// ```
    CommandId
);

uuid_newtype!(
    /// The identity of one engine incarnation. A new one is made every time an engine
    /// starts, so a restarted process never mistakes an old lease for its own.
    WorkerId
);

uuid_newtype!(
    /// The fencing token of one claim. Every command claimed in one batch carries the token
    /// of that batch; every later transition of the command (heartbeat, completion,
    /// failure, release) must present it, and is rejected once another claim has replaced it.
    LeaseToken
);
