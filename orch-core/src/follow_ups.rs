//! [`FollowUps`]: the commands a finished command enqueues.

use crate::command::Command;
use crate::push::{NewCommand, Push};

/// A list of commands to enqueue when a command finishes.
///
/// # Example
/// ```
/// # use orch_core::{Command, FollowUps};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Notify { to: String }
/// # impl Command for Notify { const NAME: &'static str = "notify"; const TIMEOUT: Option<std::time::Duration> = None;
/// #   const RETRIES: Option<u32> = None; const TARGET: Option<&'static str> = None; type Output = (); }
/// let next = FollowUps::one(Notify { to: "ops".into() }).and(Notify { to: "dev".into() });
/// assert_eq!(next.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct FollowUps {
    items: Vec<FollowUp>,
}

/// One follow-up: the command already serialized, or the error serializing it.
#[derive(Debug)]
pub(crate) enum FollowUp {
    Ready(NewCommand),
    Invalid { name: &'static str, error: String },
}

impl FollowUps {
    /// No follow-ups.
    pub const fn none() -> Self {
        Self { items: Vec::new() }
    }

    /// Exactly one follow-up with default push options.
    pub fn one<C: Command>(cmd: C) -> Self {
        Self::none().and(cmd)
    }

    /// Adds a follow-up with default push options.
    #[must_use]
    pub fn and<C: Command>(self, cmd: C) -> Self {
        self.and_with(cmd, Push::new())
    }

    /// Adds a follow-up with explicit push options (target, delay, idempotency key).
    #[must_use]
    pub fn and_with<C: Command>(mut self, cmd: C, push: Push) -> Self {
        let item = match NewCommand::from_command(&cmd, push) {
            Ok(new) => FollowUp::Ready(new),
            Err(error) => FollowUp::Invalid {
                name: C::NAME,
                error: error.to_string(),
            },
        };
        self.items.push(item);
        self
    }

    /// How many follow-ups there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The serialized commands, or the first serialization error as `(name, message)`.
    pub(crate) fn into_commands(self) -> Result<Vec<NewCommand>, (&'static str, String)> {
        self.items
            .into_iter()
            .map(|item| match item {
                FollowUp::Ready(cmd) => Ok(cmd),
                FollowUp::Invalid { name, error } => Err((name, error)),
            })
            .collect()
    }
}

impl<C: Command> FromIterator<C> for FollowUps {
    fn from_iter<I: IntoIterator<Item = C>>(iter: I) -> Self {
        iter.into_iter().fold(Self::none(), Self::and)
    }
}
