//! [`Ctx`]: what a handler knows about the attempt it runs.

use std::any::type_name;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::extensions::Extensions;
use crate::handler::HandlerError;
use crate::id::CommandId;

/// The context of one attempt.
///
/// The cancellation token fires when the attempt times out, when the command is canceled,
/// when its lease is lost, and when the engine shuts down; long handlers should watch it
/// (`ctx.cancelled().await` in a `select!`) and return early.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub(crate) id: CommandId,
    pub(crate) name: &'static str,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) deadline: Instant,
    pub(crate) cancel: CancellationToken,
    pub(crate) state: Arc<Extensions>,
}

impl Ctx {
    /// A context for calling a handler directly, outside the engine (tests, tools).
    ///
    /// # Example
    /// ```
    /// use orch_core::{Ctx, CommandId, Extensions};
    /// let ctx = Ctx::detached(CommandId::new(), "ping", Extensions::new());
    /// assert_eq!(ctx.attempt(), 1);
    /// ```
    pub fn detached(id: CommandId, name: &'static str, state: Extensions) -> Self {
        Self {
            id,
            name,
            attempt: 1,
            max_attempts: 1,
            deadline: Instant::now() + Duration::from_secs(3600),
            cancel: CancellationToken::new(),
            state: Arc::new(state),
        }
    }

    /// The command's id.
    pub fn id(&self) -> CommandId {
        self.id
    }

    /// The command's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// This attempt's number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How many attempts the command has in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure of this attempt is final.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// When this attempt's timeout fires (monotonic clock).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The attempt's cancellation token.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Completes when the attempt is canceled (timeout, cancel, lease lost, shutdown).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether the attempt has been canceled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Application state of type `T`, added with the builder's `.state(..)`.
    ///
    /// A missing type is a permanent error naming the type, since no retry can add it.
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&T, HandlerError> {
        self.state.get::<T>().ok_or_else(|| {
            HandlerError::fatal(format!(
                "no application state of type `{}` was added to the engine (added: {:?})",
                type_name::<T>(),
                self.state.type_names()
            ))
        })
    }
}
