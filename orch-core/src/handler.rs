//! The [`Handler`] trait and the errors a handler returns.

use std::fmt;
use std::future::Future;

use crate::command::Command;
use crate::context::Ctx;

/// Runs one command type. Registered at link time with `#[orch_handler]` (the handler type
/// must then implement `Default`), or explicitly on the builder.
///
/// Handlers run at least once per command: a crash between the handler's side effects and
/// the recorded completion runs it again, so make side effects idempotent or keep them in
/// the same database transaction as your own writes.
///
/// # Example
/// ```
/// use orch_core::{Command, Ctx, Handler, HandlerError};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Add { a: i64, b: i64 }
/// # impl Command for Add { const NAME: &'static str = "add"; const TIMEOUT: Option<std::time::Duration> = None;
/// #   const RETRIES: Option<u32> = None; const TARGET: Option<&'static str> = None; type Output = i64; }
/// #[derive(Default)]
/// struct Adder;
///
/// impl Handler<Add> for Adder {
///     async fn run(&self, cmd: Add, _ctx: &Ctx) -> Result<i64, HandlerError> {
///         Ok(cmd.a + cmd.b)
///     }
/// }
/// ```
pub trait Handler<C: Command>: Send + Sync + 'static {
    /// Runs one attempt. `ctx` carries the command id, the attempt number, the cancellation
    /// token (fired on timeout, cancel and shutdown) and the application state.
    fn run(
        &self,
        cmd: C,
        ctx: &Ctx,
    ) -> impl Future<Output = Result<C::Output, HandlerError>> + Send;
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed attempt, as a handler reports it.
///
/// Any `std::error::Error` converts into a retryable one, so `?` works in handlers; use
/// [`HandlerError::fatal`] or [`ResultExt::fatal`] for errors a retry cannot fix.
///
/// Like `anyhow::Error`, it is not itself a `std::error::Error` (that would clash with the
/// blanket conversion from every error), but it derefs to one, converts into
/// `Box<dyn Error + Send + Sync>`, and `.source()` returns the error it wraps.
///
/// # Example
/// ```
/// use orch_core::HandlerError;
/// let error: HandlerError = std::io::Error::other("disk full").into();
/// let as_std: &(dyn std::error::Error + Send + Sync) = &*error;
/// assert_eq!(as_std.to_string(), "disk full");
/// let boxed: Box<dyn std::error::Error + Send + Sync> = error.into();
/// # let _ = boxed;
/// ```
pub struct HandlerError {
    retryable: bool,
    source: BoxError,
}

impl HandlerError {
    /// An error worth retrying (the default for `?`).
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self {
            retryable: true,
            source: error.into(),
        }
    }

    /// An error no retry can fix: the command is dead after this attempt.
    pub fn fatal(error: impl Into<BoxError>) -> Self {
        Self {
            retryable: false,
            source: error.into(),
        }
    }

    /// Whether the engine may retry after this error.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("retryable", &self.retryable)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)?;
        let mut next = self.source.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl std::ops::Deref for HandlerError {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.source
    }
}

impl AsRef<dyn std::error::Error + Send + Sync + 'static> for HandlerError {
    fn as_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl From<HandlerError> for BoxError {
    fn from(error: HandlerError) -> Self {
        error.source
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self::retryable(error)
    }
}

/// `.retryable()` and `.fatal()` on any `Result` whose error converts into a boxed error.
///
/// # Example
/// ```
/// use orch_core::{HandlerError, ResultExt};
/// fn parse(s: &str) -> Result<u32, HandlerError> {
///     s.parse::<u32>().fatal()
/// }
/// assert!(!parse("x").unwrap_err().is_retryable());
/// ```
pub trait ResultExt<T> {
    /// Maps the error to a retryable [`HandlerError`].
    fn retryable(self) -> Result<T, HandlerError>;
    /// Maps the error to a permanent [`HandlerError`].
    fn fatal(self) -> Result<T, HandlerError>;
}

impl<T, E: Into<BoxError>> ResultExt<T> for Result<T, E> {
    fn retryable(self) -> Result<T, HandlerError> {
        self.map_err(HandlerError::retryable)
    }
    fn fatal(self) -> Result<T, HandlerError> {
        self.map_err(HandlerError::fatal)
    }
}
