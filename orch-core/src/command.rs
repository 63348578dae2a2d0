//! The [`Command`] trait that `#[orch_command]` implements, and the optional [`Chain`] of
//! follow-up commands.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::failure::Failure;
use crate::follow_ups::FollowUps;

/// A typed, persistent unit of work.
///
/// Usually implemented by `#[orch_command]`, which derives the name (the type name without a
/// `Command` suffix, in snake_case), and reads `timeout`, `retries`, `output` and `target`
/// from its arguments. The name is the wire contract: rows in the database refer to it, so
/// renaming a type must keep the name (`#[orch_command(name = "…")]`).
///
/// # Example
/// ```
/// use orch_core::{Command, FollowUps, ChainEvent};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize)]
/// struct Ping;
///
/// impl Command for Ping {
///     const NAME: &'static str = "ping";
///     const TIMEOUT: Option<Duration> = Some(Duration::from_secs(5));
///     const RETRIES: Option<u32> = Some(0);
///     const TARGET: Option<&'static str> = None;
///     type Output = ();
/// }
/// assert_eq!(Ping::NAME, "ping");
/// ```
pub trait Command: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name stored with each row and used to find the handler.
    const NAME: &'static str;
    /// How long one attempt may run; `None` takes the engine's default timeout.
    const TIMEOUT: Option<Duration>;
    /// How many times a failed attempt is retried after the first one; `None` takes the
    /// engine's default. `Some(0)` means exactly one attempt.
    const RETRIES: Option<u32>;
    /// The instance key the command is routed to when a push names none; `None` routes it
    /// to the pushing client's default target.
    const TARGET: Option<&'static str>;
    /// What a successful run returns; stored as JSON and readable through `get`.
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The follow-up commands for one outcome. `#[orch_command]` forwards this to the
    /// type's [`Chain`] implementation when there is one; the default is none.
    fn follow_ups(&self, event: ChainEvent<'_, Self::Output>) -> FollowUps {
        let _ = event;
        FollowUps::none()
    }

    /// Whether [`Command::follow_ups`] can return anything, so the engine can skip the work
    /// of computing follow-ups for commands that have no chain.
    fn has_chain() -> bool {
        false
    }
}

/// The outcome a chain reacts to.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChainEvent<'a, O> {
    /// The handler succeeded with this output.
    Success(&'a O),
    /// The command failed for good (no attempts left, or a permanent error).
    Failure(&'a Failure),
    /// The command was canceled.
    Canceled,
}

/// Follow-up commands enqueued when a command finishes, in the same transaction that
/// records the finish: a completed parent never lacks its children, nor has them twice.
///
/// Implement it for a type marked `#[orch_command]`; every method defaults to no follow-ups.
/// `on_failure` runs only once the command is dead, not after each failed attempt.
pub trait Chain: Command {
    /// Follow-ups after a successful run.
    fn on_success(&self, output: &Self::Output) -> FollowUps {
        let _ = output;
        FollowUps::none()
    }
    /// Follow-ups after the final failure.
    fn on_failure(&self, failure: &Failure) -> FollowUps {
        let _ = failure;
        FollowUps::none()
    }
    /// Follow-ups after a cancellation.
    fn on_cancel(&self) -> FollowUps {
        FollowUps::none()
    }
}

/// Dispatches a [`ChainEvent`] to the matching [`Chain`] method.
pub fn dispatch_chain<C: Chain>(cmd: &C, event: ChainEvent<'_, C::Output>) -> FollowUps {
    match event {
        ChainEvent::Success(out) => cmd.on_success(out),
        ChainEvent::Failure(failure) => cmd.on_failure(failure),
        ChainEvent::Canceled => cmd.on_cancel(),
    }
}
