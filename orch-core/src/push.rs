//! [`Push`] options and the serialized [`NewCommand`] they produce.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::command::Command;
use crate::id::CommandId;

/// Options for one push: routing, scheduling, deduplication and per-push overrides.
///
/// # Example
/// ```
/// use orch_core::Push;
/// use std::time::Duration;
/// let opts = Push::new().target("email-worker").delay(Duration::from_secs(30)).idempotency_key("order-7");
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Push {
    pub(crate) target: Option<String>,
    pub(crate) when: When,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<u32>,
}

/// When a command becomes due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum When {
    /// As soon as a worker is free (the database's `now()` at insert).
    #[default]
    Now,
    /// At an absolute instant.
    At(DateTime<Utc>),
    /// This long after the database's `now()` at insert.
    After(Duration),
}

impl Push {
    /// Default options: due now, the command's own target, timeout and retries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes the command to the workers serving this instance key.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Runs the command no earlier than `when` (compared with the database's clock).
    pub fn run_at(mut self, when: DateTime<Utc>) -> Self {
        self.when = When::At(when);
        self
    }

    /// Runs the command no earlier than `delay` after the insert (database clock).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.when = When::After(delay);
        self
    }

    /// Deduplicates pushes: a second push with the same key returns the first command's id
    /// and inserts nothing, for as long as that command's row exists. Keys are unique
    /// across the whole table prefix, not per command name: prefix them with the name
    /// (`"invoice:7"`) when two command types could share one. 1–255 bytes.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Overrides the command type's timeout for this push.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Overrides the command type's retry count for this push.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }
}

/// What a push did: the command's id, and whether this push created it or found it
/// already there under the same idempotency key.
///
/// # Example
/// ```
/// # use orch_core::{CommandId, Pushed};
/// # fn f(pushed: Pushed) {
/// if !pushed.created {
///     println!("deduplicated: {} already existed", pushed.id);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pushed {
    /// The command's id: the new one, or the existing command's for a duplicate key.
    pub id: CommandId,
    /// False when a command with the same idempotency key already existed and nothing was
    /// inserted.
    pub created: bool,
}

impl Pushed {
    /// What a store reports for one inserted command: `created` is false for a duplicate
    /// idempotency key, `id` then being the existing command's.
    pub const fn new(id: CommandId, created: bool) -> Self {
        Self { id, created }
    }
}

/// A command serialized for insertion, before the client's defaults are applied.
#[derive(Debug, Clone)]
pub struct NewCommand {
    /// The id it will have.
    pub id: CommandId,
    /// The command name.
    pub name: &'static str,
    /// The JSON payload.
    pub input: String,
    /// Push options merged with the command type's own settings.
    pub push: Push,
}

impl NewCommand {
    /// Serializes a typed command with its push options; the type's `TIMEOUT`, `RETRIES`
    /// and `TARGET` fill what the options leave open.
    pub fn from_command<C: Command>(cmd: &C, mut push: Push) -> Result<Self, serde_json::Error> {
        let input = serde_json::to_string(cmd)?;
        if push.target.is_none() {
            push.target = C::TARGET.map(str::to_owned);
        }
        push.timeout = push.timeout.or(C::TIMEOUT);
        push.retries = push.retries.or(C::RETRIES);
        Ok(Self {
            id: CommandId::new(),
            name: C::NAME,
            input,
            push,
        })
    }
}
