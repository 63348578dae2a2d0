//! Commands and handlers shared by the conformance tests. Handlers are registered
//! explicitly per test; they report what they did through the [`Ledger`] state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orch::prelude::*;

/// What handlers did, shared through application state.
#[derive(Default, Debug)]
pub struct Ledger {
    runs: Mutex<HashMap<String, u32>>,
    events: Mutex<Vec<String>>,
}

impl Ledger {
    /// Counts one run of `key`.
    pub fn run(&self, key: impl Into<String>) {
        *lock(&self.runs).entry(key.into()).or_default() += 1;
    }
    /// How many times `key` ran.
    pub fn runs(&self, key: &str) -> u32 {
        lock(&self.runs).get(key).copied().unwrap_or(0)
    }
    /// Every key with its run count.
    pub fn all_runs(&self) -> HashMap<String, u32> {
        lock(&self.runs).clone()
    }
    /// Records an event.
    pub fn event(&self, e: impl Into<String>) {
        lock(&self.events).push(e.into());
    }
    /// Whether an event was recorded.
    pub fn saw(&self, e: &str) -> bool {
        lock(&self.events).iter().any(|x| x == e)
    }
    /// Every event, in the order recorded.
    pub fn events(&self) -> Vec<String> {
        lock(&self.events).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Returns its number; counts runs by number.
#[orch_command(retries = 2, output = u64)]
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct EchoCommand {
    /// The number.
    pub n: u64,
}

/// Runs [`EchoCommand`].
#[derive(Default)]
pub struct EchoHandler;

impl Handler<EchoCommand> for EchoHandler {
    async fn run(&self, cmd: EchoCommand, ctx: &Ctx) -> Result<u64, HandlerError> {
        ctx.state::<Arc<Ledger>>()?.run(cmd.n.to_string());
        Ok(cmd.n)
    }
}

/// Fails its first `fail_times` attempts, then succeeds.
#[orch_command(retries = 3)]
#[derive(Serialize, Deserialize)]
pub struct Flaky {
    /// Attempts that fail.
    pub fail_times: u32,
}

/// Runs [`Flaky`].
#[derive(Default)]
pub struct FlakyHandler;

impl Handler<Flaky> for FlakyHandler {
    async fn run(&self, cmd: Flaky, ctx: &Ctx) -> Result<(), HandlerError> {
        if ctx.attempt() <= cmd.fail_times {
            return Err(HandlerError::retryable(format!(
                "flaky failure on attempt {}",
                ctx.attempt()
            )));
        }
        Ok(())
    }
}

/// Always fails (retryably, or fatally); on its final failure enqueues a [`Notice`].
#[orch_command(retries = 2)]
#[derive(Serialize, Deserialize)]
pub struct Failing {
    /// Fail with a permanent error.
    pub fatal: bool,
}

impl Chain for Failing {
    fn on_failure(&self, failure: &Failure) -> FollowUps {
        FollowUps::one(Notice {
            what: format!("failed:{}", failure.kind),
        })
    }
}

/// Runs [`Failing`].
#[derive(Default)]
pub struct FailingHandler;

impl Handler<Failing> for FailingHandler {
    async fn run(&self, cmd: Failing, _ctx: &Ctx) -> Result<(), HandlerError> {
        if cmd.fatal {
            Err(HandlerError::fatal("cannot ever work"))
        } else {
            Err(HandlerError::retryable("not yet"))
        }
    }
}

/// Sleeps `ms` under a 200 ms timeout, recording whether its token fired.
#[orch_command(timeout = "200ms", retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct Sleepy {
    /// How long to sleep.
    pub ms: u64,
}

/// Runs [`Sleepy`].
#[derive(Default)]
pub struct SleepyHandler;

impl Handler<Sleepy> for SleepyHandler {
    async fn run(&self, cmd: Sleepy, ctx: &Ctx) -> Result<(), HandlerError> {
        let ledger = ctx.state::<Arc<Ledger>>()?;
        let token = ctx.cancellation().clone();
        ledger.event("sleepy:start");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(cmd.ms)) => {
                ledger.event("sleepy:done");
                Ok(())
            }
            () = token.cancelled() => {
                ledger.event("sleepy:cancelled");
                Err(HandlerError::retryable("cancelled"))
            }
        }
    }
}

/// Panics.
#[orch_command(retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct Panicky;

/// Runs [`Panicky`].
#[derive(Default)]
pub struct PanickyHandler;

impl Handler<Panicky> for PanickyHandler {
    #[allow(clippy::panic, reason = "the test is about a panicking handler")]
    async fn run(&self, _cmd: Panicky, _ctx: &Ctx) -> Result<(), HandlerError> {
        panic!("boom in handler")
    }
}

/// Chains a [`Child`] on success and a [`Notice`] on cancel.
#[orch_command(output = u64)]
#[derive(Serialize, Deserialize)]
pub struct Parent {
    /// Passed to the child.
    pub n: u64,
}

impl Chain for Parent {
    fn on_success(&self, out: &u64) -> FollowUps {
        FollowUps::one(Child { n: *out + 1 })
    }
    fn on_cancel(&self) -> FollowUps {
        FollowUps::one(Notice {
            what: format!("parent {} canceled", self.n),
        })
    }
}

/// Runs [`Parent`].
#[derive(Default)]
pub struct ParentHandler;

impl Handler<Parent> for ParentHandler {
    async fn run(&self, cmd: Parent, ctx: &Ctx) -> Result<u64, HandlerError> {
        ctx.state::<Arc<Ledger>>()?.run(format!("parent:{}", cmd.n));
        Ok(cmd.n * 10)
    }
}

/// A follow-up of [`Parent`].
#[orch_command]
#[derive(Serialize, Deserialize)]
pub struct Child {
    /// The parent's output plus one.
    pub n: u64,
}

/// Runs [`Child`].
#[derive(Default)]
pub struct ChildHandler;

impl Handler<Child> for ChildHandler {
    async fn run(&self, cmd: Child, ctx: &Ctx) -> Result<(), HandlerError> {
        ctx.state::<Arc<Ledger>>()?.run(format!("child:{}", cmd.n));
        Ok(())
    }
}

/// A follow-up carrying a note.
#[orch_command]
#[derive(Serialize, Deserialize)]
pub struct Notice {
    /// The note.
    pub what: String,
}

/// Waits until canceled, recording it.
#[orch_command(timeout = "30s")]
#[derive(Serialize, Deserialize)]
pub struct Blocker {
    /// A label.
    pub label: String,
}

/// Runs [`Blocker`].
#[derive(Default)]
pub struct BlockerHandler;

impl Handler<Blocker> for BlockerHandler {
    async fn run(&self, cmd: Blocker, ctx: &Ctx) -> Result<(), HandlerError> {
        let ledger = ctx.state::<Arc<Ledger>>()?;
        ledger.event(format!("{}:start", cmd.label));
        ctx.cancelled().await;
        ledger.event(format!("{}:cancelled", cmd.label));
        Err(HandlerError::retryable("cancelled"))
    }
}

/// The old shape of a command whose payload changed incompatibly.
#[orch_command(name = "shape", retries = 5)]
#[derive(Serialize, Deserialize)]
pub struct ShapeV1 {
    /// Once a string.
    pub x: String,
}

/// The new shape: the same name, a field of another type.
#[orch_command(name = "shape", retries = 5)]
#[derive(Serialize, Deserialize)]
pub struct ShapeV2 {
    /// Now a number.
    pub x: u32,
}

/// Runs [`ShapeV2`].
#[derive(Default)]
pub struct ShapeHandler;

impl Handler<ShapeV2> for ShapeHandler {
    async fn run(&self, _cmd: ShapeV2, _ctx: &Ctx) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Records which engine ran it (the engine's label is its `&'static str` state).
#[orch_command]
#[derive(Serialize, Deserialize)]
pub struct WhoRuns {
    /// A key.
    pub key: String,
}

/// The label of an engine in routing tests.
pub struct EngineLabel(pub &'static str);

/// Runs [`WhoRuns`].
#[derive(Default)]
pub struct WhoRunsHandler;

impl Handler<WhoRuns> for WhoRunsHandler {
    async fn run(&self, cmd: WhoRuns, ctx: &Ctx) -> Result<(), HandlerError> {
        let label = ctx.state::<EngineLabel>()?.0;
        ctx.state::<Arc<Ledger>>()?
            .run(format!("{}@{label}", cmd.key));
        Ok(())
    }
}

/// A command no engine in the tests has a handler for.
#[orch_command]
#[derive(Serialize, Deserialize)]
pub struct Orphan {
    /// Anything.
    pub n: u32,
}

/// A payload of `size` bytes.
#[orch_command]
#[derive(Serialize, Deserialize)]
pub struct Big {
    /// The bytes.
    pub blob: String,
}

/// Sleeps `ms` under a 10 s timeout.
#[orch_command(timeout = "10s", retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct Slow {
    /// How long to sleep.
    pub ms: u64,
}

/// Runs [`Slow`].
#[derive(Default)]
pub struct SlowHandler;

impl Handler<Slow> for SlowHandler {
    async fn run(&self, cmd: Slow, ctx: &Ctx) -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_millis(cmd.ms)).await;
        ctx.state::<Arc<Ledger>>()?.run("slow");
        Ok(())
    }
}

/// Runs [`ShapeV1`] (only to provoke a duplicate-name error).
#[derive(Default)]
pub struct ShapeV1Handler;

impl Handler<ShapeV1> for ShapeV1Handler {
    async fn run(&self, _cmd: ShapeV1, _ctx: &Ctx) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Hangs in the crash-worker process (until it is killed); succeeds anywhere else.
#[orch_command(timeout = "10m")]
#[derive(Serialize, Deserialize)]
pub struct Hang {
    /// A label.
    pub label: String,
}

/// Runs [`Hang`]: forever when `hang` is set.
#[derive(Default)]
pub struct HangHandler {
    /// Whether to hang.
    pub hang: bool,
}

impl Handler<Hang> for HangHandler {
    async fn run(&self, _cmd: Hang, _ctx: &Ctx) -> Result<(), HandlerError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// A cron tick (name: `tick`).
#[orch_command(timeout = "10s", retries = 0)]
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Tick {
    /// A label.
    pub label: String,
}

/// Runs [`Tick`]: counts runs by label.
#[derive(Default)]
pub struct TickHandler;

impl Handler<Tick> for TickHandler {
    async fn run(&self, cmd: Tick, ctx: &Ctx) -> Result<(), HandlerError> {
        if let Ok(ledger) = ctx.state::<Arc<Ledger>>() {
            ledger.run(cmd.label);
        }
        Ok(())
    }
}

/// Blocks its worker thread for `ms` (ignoring its token) under a 300 ms timeout.
#[orch_command(timeout = "300ms", retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct ThreadBlocker {
    /// How long to block, in milliseconds.
    pub ms: u64,
}

/// Runs [`ThreadBlocker`].
#[derive(Default)]
pub struct ThreadBlockerHandler;

impl Handler<ThreadBlocker> for ThreadBlockerHandler {
    async fn run(&self, cmd: ThreadBlocker, ctx: &Ctx) -> Result<(), HandlerError> {
        let ledger = ctx.state::<Arc<Ledger>>()?.clone();
        ledger.event("blocker:start");
        // Deliberately blocks the executor's thread, as a buggy handler would.
        std::thread::sleep(Duration::from_millis(cmd.ms));
        ledger.event("blocker:returned");
        Ok(())
    }
}

/// Cancels its own token, then returns its number.
#[orch_command(output = u64)]
#[derive(Serialize, Deserialize)]
pub struct SelfCancel {
    /// The output.
    pub n: u64,
}

/// Runs [`SelfCancel`].
#[derive(Default)]
pub struct SelfCancelHandler;

impl Handler<SelfCancel> for SelfCancelHandler {
    async fn run(&self, cmd: SelfCancel, ctx: &Ctx) -> Result<u64, HandlerError> {
        ctx.cancellation().cancel();
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(cmd.n)
    }
}

/// Fails for good; its `on_failure` and `on_cancel` callbacks panic.
#[orch_command(retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct BadChain {
    /// A label.
    pub label: String,
}

impl Chain for BadChain {
    fn on_failure(&self, _failure: &Failure) -> FollowUps {
        panic!("on_failure of {} panics", self.label)
    }
    fn on_cancel(&self) -> FollowUps {
        panic!("on_cancel of {} panics", self.label)
    }
}

/// Runs [`BadChain`]: always a permanent error.
#[derive(Default)]
pub struct BadChainHandler;

impl Handler<BadChain> for BadChainHandler {
    async fn run(&self, _cmd: BadChain, _ctx: &Ctx) -> Result<(), HandlerError> {
        Err(HandlerError::fatal("bad chain fails"))
    }
}

/// Returns a string of `kib` KiB.
#[orch_command(retries = 2, output = String)]
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Sized {
    /// The output's size in KiB.
    pub kib: usize,
}

/// Runs [`Sized`].
#[derive(Default)]
pub struct SizedHandler;

impl Handler<Sized> for SizedHandler {
    async fn run(&self, cmd: Sized, _ctx: &Ctx) -> Result<String, HandlerError> {
        Ok("x".repeat(cmd.kib * 1024))
    }
}

/// Returns its text as its output, or fails with it as the error message; on its final
/// failure enqueues a [`Notice`] naming the text and the failure's kind. Counts runs by
/// text.
#[orch_command(retries = 1, output = String)]
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Say {
    /// The output, or the error message.
    pub text: String,
    /// Fail (retryably) instead of succeeding.
    pub fail: bool,
}

impl Chain for Say {
    fn on_failure(&self, failure: &Failure) -> FollowUps {
        FollowUps::one(Notice {
            what: format!("{}:{}", self.text.replace('\0', ""), failure.kind),
        })
    }
}

/// Runs [`Say`].
#[derive(Default)]
pub struct SayHandler;

impl Handler<Say> for SayHandler {
    async fn run(&self, cmd: Say, ctx: &Ctx) -> Result<String, HandlerError> {
        ctx.state::<Arc<Ledger>>()?.run(cmd.text.clone());
        if cmd.fail {
            Err(HandlerError::retryable(cmd.text))
        } else {
            Ok(cmd.text)
        }
    }
}
