//! The soak's command and its handler: one row in the side table (its effect), then some
//! work, then its result.

use std::time::Duration;

use orch::prelude::*;

use super::execution_log::ExecutionLog;

/// [`SoakCommand`]'s timeout, which the lease span and the recovery bound are computed
/// from.
pub(crate) const SOAK_TIMEOUT: Duration = match <SoakCommand as orch::Command>::TIMEOUT {
    Some(timeout) => timeout,
    None => Duration::ZERO,
};

/// One unit of soak work: records its execution, then sleeps `work_us`. Retried far more
/// often than any soak kills it, so a command can only end `succeeded`.
#[orch_command(name = "soak", timeout = "10s", retries = 10000)]
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub struct SoakCommand {
    /// The command's number in the run (`0..commands`).
    pub n: u64,
    /// How long the handler works after its effect, in microseconds.
    pub work_us: u64,
}

/// Runs [`SoakCommand`]: appends its execution to the [`ExecutionLog`] (the effect), works,
/// returns. Every kill of its engine from the effect until the result is recorded leaves a
/// re-run behind, so each execution in flight at a kill is visible in the side table. It
/// never fails on its own, so every failed attempt the audit finds was caused by the
/// chaos.
#[derive(Default)]
pub struct SoakHandler;

impl Handler<SoakCommand> for SoakHandler {
    async fn run(&self, cmd: SoakCommand, ctx: &Ctx) -> Result<(), HandlerError> {
        let started = chrono::Utc::now();
        ctx.state::<ExecutionLog>()?
            .append(ctx.id(), ctx.attempt(), started)
            .await
            .retryable()?;
        tokio::time::sleep(Duration::from_micros(cmd.work_us)).await;
        Ok(())
    }
}
