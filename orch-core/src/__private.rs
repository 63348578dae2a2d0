//! Items used by the code `#[orch_command]` and `#[orch_handler]` generate. Not public API:
//! anything here may change in any release.

use std::marker::PhantomData;

pub use inventory;

pub use crate::command::{Chain, ChainEvent, Command, dispatch_chain};
pub use crate::follow_ups::FollowUps;
pub use crate::handler::Handler;
pub use crate::registry::HandlerRegistration;

/// A handler type `#[orch_handler]` can build: one that implements `Default`. Exists for
/// its error message, which says what to do when `Default` is missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered by `#[orch_handler]`: it does not implement `Default`",
    label = "`#[orch_handler]` builds this handler with `Default::default()`",
    note = "add `#[derive(Default)]` to `{Self}`, or register the handler on the engine builder instead"
)]
pub trait DefaultHandler: Default {}

impl<T: Default> DefaultHandler for T {}

/// The registration `#[orch_handler]` submits: [`HandlerRegistration::of`], with the
/// `Default` bound spelled as [`DefaultHandler`] so a missing `Default` gets one readable
/// error pointing at the handler type.
pub const fn handler_registration<C: Command, H: Handler<C> + DefaultHandler>()
-> HandlerRegistration {
    HandlerRegistration::of::<C, H>()
}

/// A `Duration` literal for generated constants.
pub const fn duration_from_millis(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms)
}

/// Picks a command type's [`Chain`] implementation when it has one (autoref
/// specialization: `(&ChainProbe::<T>::new()).method()` resolves to [`ViaChain`] when
/// `T: Chain`, and to [`ViaNoChain`] otherwise).
pub struct ChainProbe<T>(PhantomData<fn() -> T>);

impl<T> ChainProbe<T> {
    /// A probe for type `T`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for ChainProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Chosen when the command type implements [`Chain`].
pub trait ViaChain<T: Command> {
    /// Whether the type has a chain.
    fn __orch_has_chain(&self) -> bool;
    /// The chain's follow-ups for `event`.
    fn __orch_follow_ups(&self, cmd: &T, event: ChainEvent<'_, T::Output>) -> FollowUps;
}

impl<T: Chain> ViaChain<T> for ChainProbe<T> {
    fn __orch_has_chain(&self) -> bool {
        true
    }
    fn __orch_follow_ups(&self, cmd: &T, event: ChainEvent<'_, T::Output>) -> FollowUps {
        dispatch_chain(cmd, event)
    }
}

/// Chosen when the command type has no [`Chain`]: no follow-ups.
pub trait ViaNoChain<T: Command> {
    /// Whether the type has a chain.
    fn __orch_has_chain(&self) -> bool;
    /// No follow-ups.
    fn __orch_follow_ups(&self, cmd: &T, event: ChainEvent<'_, T::Output>) -> FollowUps;
}

impl<T: Command> ViaNoChain<T> for &ChainProbe<T> {
    fn __orch_has_chain(&self) -> bool {
        false
    }
    fn __orch_follow_ups(&self, _cmd: &T, _event: ChainEvent<'_, T::Output>) -> FollowUps {
        FollowUps::none()
    }
}
