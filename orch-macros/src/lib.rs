//! # orch-macros
//!
//! The two attribute macros of orch. Use them through the `orch` crate
//! (`use orch::prelude::*;`), which re-exports them; generated code refers to
//! `::orch::__private`, so code that depends on `orch-core` alone writes
//! `crate = ::orch_core`.
//!
//! ## `#[orch_command]`
//!
//! Implements `Command` for a struct or an enum. The item is emitted unchanged: derive
//! `Serialize` and `Deserialize` yourself.
//!
//! ```ignore
//! use orch::prelude::*;
//!
//! #[orch_command(timeout = "2m", retries = 5, output = Receipt, target = "email-worker")]
//! #[derive(Serialize, Deserialize)]
//! struct SendEmailCommand {
//!     to: String,
//! }
//!
//! assert_eq!(SendEmailCommand::NAME, "send_email");
//! ```
//!
//! Every argument is optional and may appear once:
//!
//! | key | value | default |
//! | --- | --- | --- |
//! | `name` | the stored name, a non-empty string | the type name without a trailing `Command`, in snake_case |
//! | `timeout` | how long one attempt may run: `"30s"`, `"5m"`, `"1h30m"` (units `ms`, `s`, `m`, `h`, `d`) | the engine's default |
//! | `retries` | retries after the first attempt, an integer | the engine's default |
//! | `output` | the type a successful run returns | `()` |
//! | `target` | the instance key the command is routed to | the pushing client's default |
//! | `crate` | the path of the orch crate | `::orch` |
//!
//! The name is the wire contract: stored rows refer to it, so give an explicit `name` before
//! renaming a command type. If the type also implements `Chain`, the generated
//! `follow_ups` and `has_chain` use it; otherwise the command has no follow-ups.
//!
//! ## `#[orch_handler]`
//!
//! Registers the handler of an `impl Handler<C> for H` block at link time, so the engine
//! finds it without being told. The handler is built with `H::default()`, so `H` must
//! implement `Default`; handlers needing state read it from the context. The only argument
//! is `crate = path`.
//!
//! ```ignore
//! use orch::prelude::*;
//!
//! #[derive(Default)]
//! struct Mailer;
//!
//! #[orch_handler]
//! impl Handler<SendEmailCommand> for Mailer {
//!     async fn run(&self, cmd: SendEmailCommand, ctx: &Ctx) -> Result<Receipt, HandlerError> {
//!         todo!()
//!     }
//! }
//! ```
//!
//! ## Errors
//!
//! Both macros report every mistake at once, each pointing at the offending token and saying
//! what to write instead, and still emit the annotated item so one typo does not turn into
//! errors wherever the type is used.

mod arg_list;
mod command;
mod crate_path;
mod duration;
mod errors;
mod handler;

use proc_macro::TokenStream;

/// Implements `Command` for a struct or an enum; see the [crate docs](crate) for the
/// arguments.
///
/// ```ignore
/// #[orch_command(timeout = "30s", retries = 3)]
/// #[derive(Serialize, Deserialize)]
/// struct GenerateReport {
///     month: u32,
/// }
/// ```
#[proc_macro_attribute]
pub fn orch_command(args: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(args.into(), item.into())
        .unwrap_or_else(errors::Failure::into_tokens)
        .into()
}

/// Registers the handler of an `impl Handler<C> for H` block; `H` must implement `Default`.
/// See the [crate docs](crate).
///
/// ```ignore
/// #[orch_handler]
/// impl Handler<GenerateReport> for Reporter {
///     async fn run(&self, cmd: GenerateReport, ctx: &Ctx) -> Result<(), HandlerError> {
///         Ok(())
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn orch_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into())
        .unwrap_or_else(errors::Failure::into_tokens)
        .into()
}
