//! The no-op command, and a latency probe that reports its push-to-start delay.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use orch::prelude::*;

/// Does nothing.
#[orch_command(name = "bench.noop", retries = 0)]
#[derive(Serialize, Deserialize)]
pub(crate) struct Noop {
    pub(crate) n: u64,
}

/// Runs [`Noop`].
#[derive(Default)]
pub(crate) struct NoopHandler;

impl Handler<Noop> for NoopHandler {
    async fn run(&self, _cmd: Noop, _ctx: &Ctx) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Carries the wall-clock time of its push, in microseconds.
#[orch_command(name = "bench.probe", retries = 0)]
#[derive(Serialize, Deserialize)]
pub(crate) struct Probe {
    pub(crate) pushed_us: u64,
}

/// Push-to-start delays seen by the probe handler, in microseconds.
#[derive(Default)]
pub(crate) struct Delays(pub(crate) Mutex<Vec<u64>>);

/// Runs [`Probe`].
#[derive(Default)]
pub(crate) struct ProbeHandler;

impl Handler<Probe> for ProbeHandler {
    async fn run(&self, cmd: Probe, ctx: &Ctx) -> Result<(), HandlerError> {
        let delay = now_us().saturating_sub(cmd.pushed_us);
        ctx.state::<std::sync::Arc<Delays>>()?
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(delay);
        Ok(())
    }
}

/// The wall clock in microseconds (both ends of a delay are read in this process).
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A large payload, never run.
#[orch_command(name = "bench.blob")]
#[derive(Serialize, Deserialize)]
pub(crate) struct Blob {
    pub(crate) data: String,
}
