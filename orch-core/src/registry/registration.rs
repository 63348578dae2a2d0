//! Const-constructible registration values, collected at link time by `inventory`.

use std::any::type_name;
use std::sync::Arc;
use std::time::Duration;

use super::erased::{DynHandler, TypedHandler};
use crate::command::Command;
use crate::handler::Handler;

/// What the engine knows about a command type without naming it: its name, settings and
/// how to compute its follow-ups from a stored payload.
#[derive(Clone, Copy)]
pub struct CommandInfo {
    pub(crate) name: &'static str,
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<u32>,
    pub(crate) terminal_follow_ups: super::erased::TerminalFollowUps,
}

impl CommandInfo {
    /// The description of command type `C`.
    pub const fn of<C: Command>() -> Self {
        Self {
            name: C::NAME,
            type_name: type_name::<C>,
            timeout: C::TIMEOUT,
            retries: C::RETRIES,
            terminal_follow_ups: super::erased::terminal_follow_ups::<C>,
        }
    }

    /// The command name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust type name.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    /// The type's own timeout, if it sets one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The type's own retry count, if it sets one.
    pub fn retries(&self) -> Option<u32> {
        self.retries
    }
}

impl std::fmt::Debug for CommandInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandInfo")
            .field("name", &self.name)
            .field("type", &self.type_name())
            .finish_non_exhaustive()
    }
}

/// A handler registered at link time by `#[orch_handler]`.
pub struct HandlerRegistration {
    pub(crate) command: CommandInfo,
    pub(crate) handler_type: fn() -> &'static str,
    pub(crate) build: fn() -> Arc<dyn DynHandler>,
}

impl HandlerRegistration {
    /// The registration of handler `H` (built with `H::default()`) for command `C`.
    pub const fn of<C: Command, H: Handler<C> + Default>() -> Self {
        Self {
            command: CommandInfo::of::<C>(),
            handler_type: type_name::<H>,
            build: build_default::<C, H>,
        }
    }
}

fn build_default<C: Command, H: Handler<C> + Default>() -> Arc<dyn DynHandler> {
    Arc::new(TypedHandler::<C, H>::new(H::default()))
}

inventory::collect!(HandlerRegistration);

/// A registration made on the builder instead of at link time.
pub(crate) struct ExplicitHandler {
    pub(crate) command: CommandInfo,
    pub(crate) handler_type: &'static str,
    pub(crate) handler: Arc<dyn DynHandler>,
}

impl ExplicitHandler {
    pub(crate) fn new<C: Command, H: Handler<C>>(handler: H) -> Self {
        Self {
            command: CommandInfo::of::<C>(),
            handler_type: type_name::<H>(),
            handler: Arc::new(TypedHandler::<C, H>::new(handler)),
        }
    }
}
