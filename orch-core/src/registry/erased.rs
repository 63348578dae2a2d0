//! Type erasure: decode the payload, run the typed handler, encode the output.

use std::any::type_name;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use crate::command::{ChainEvent, Command};
use crate::context::Ctx;
use crate::failure::{Failure, FailureKind};
use crate::handler::Handler;
use crate::push::NewCommand;

/// How an attempt of an erased handler ended (panics are caught by the caller).
pub(crate) enum RunOutcome {
    Succeeded {
        output: String,
        follow_ups: Vec<NewCommand>,
    },
    Failed {
        kind: FailureKind,
        message: String,
    },
}

/// The terminal events that need only the payload: final failure and cancellation.
pub(crate) enum Terminal<'a> {
    Failed(&'a Failure),
    Canceled,
}

/// Computes the follow-ups of a terminal event from a stored payload.
pub(crate) type TerminalFollowUps = fn(&str, Terminal<'_>) -> Result<Vec<NewCommand>, String>;

pub(crate) fn terminal_follow_ups<C: Command>(
    input: &str,
    event: Terminal<'_>,
) -> Result<Vec<NewCommand>, String> {
    if !C::has_chain() {
        return Ok(Vec::new());
    }
    let cmd: C = serde_json::from_str(input).map_err(|e| decode_message::<C>(&e))?;
    let follow_ups = match event {
        Terminal::Failed(failure) => cmd.follow_ups(ChainEvent::Failure(failure)),
        Terminal::Canceled => cmd.follow_ups(ChainEvent::Canceled),
    };
    follow_ups
        .into_commands()
        .map_err(|(name, e)| format!("follow-up `{name}` does not serialize: {e}"))
}

fn decode_message<C: Command>(e: &serde_json::Error) -> String {
    format!(
        "payload of `{}` does not deserialize into `{}`: {e}",
        C::NAME,
        type_name::<C>()
    )
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler with its command type erased.
pub(crate) trait DynHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, input: &'a str, ctx: &'a Ctx) -> BoxFuture<'a, RunOutcome>;
}

pub(crate) struct TypedHandler<C, H> {
    handler: H,
    _command: PhantomData<fn() -> C>,
}

impl<C, H> TypedHandler<C, H> {
    pub(crate) fn new(handler: H) -> Self {
        Self {
            handler,
            _command: PhantomData,
        }
    }
}

impl<C: Command, H: Handler<C>> DynHandler for TypedHandler<C, H> {
    fn run<'a>(&'a self, input: &'a str, ctx: &'a Ctx) -> BoxFuture<'a, RunOutcome> {
        Box::pin(async move {
            let cmd: C = match serde_json::from_str(input) {
                Ok(cmd) => cmd,
                Err(e) => {
                    return RunOutcome::Failed {
                        kind: FailureKind::Decode,
                        message: decode_message::<C>(&e),
                    };
                }
            };
            match self.handler.run(cmd, ctx).await {
                Ok(out) => success::<C>(input, &out),
                Err(e) => RunOutcome::Failed {
                    kind: if e.is_retryable() {
                        FailureKind::Error
                    } else {
                        FailureKind::Fatal
                    },
                    message: e.to_string(),
                },
            }
        })
    }
}

fn success<C: Command>(input: &str, out: &C::Output) -> RunOutcome {
    let output = match serde_json::to_string(out) {
        Ok(output) => output,
        Err(e) => {
            return RunOutcome::Failed {
                kind: FailureKind::Fatal,
                message: format!("output of `{}` does not serialize: {e}", C::NAME),
            };
        }
    };
    if !C::has_chain() {
        return RunOutcome::Succeeded {
            output,
            follow_ups: Vec::new(),
        };
    }
    // The handler consumed the command; decode the payload again for the chain.
    let follow_ups = serde_json::from_str::<C>(input)
        .map_err(|e| decode_message::<C>(&e))
        .and_then(|cmd| {
            cmd.follow_ups(ChainEvent::Success(out))
                .into_commands()
                .map_err(|(name, e)| format!("follow-up `{name}` does not serialize: {e}"))
        });
    match follow_ups {
        Ok(follow_ups) => RunOutcome::Succeeded { output, follow_ups },
        Err(message) => RunOutcome::Failed {
            kind: FailureKind::Fatal,
            message,
        },
    }
}
