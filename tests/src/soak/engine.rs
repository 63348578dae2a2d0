//! One engine process of the soak (the `orch-soak engine` mode): an engine running
//! [`SoakCommand`] with the soak's timings until it is killed or its stdin closes.

use std::io::{Read, Write};

use orch::RetryPolicy;
use tokio_util::sync::CancellationToken;

use super::command::{SoakCommand, SoakHandler};
use super::config::EngineSpec;
use super::execution_log::ExecutionLog;
use crate::Harness;
use crate::sea::SeaBackend;

/// Runs an engine on `url` labelled `label` (the label goes into every side-table row).
/// Prints `worker ID` once the engine is built, so the driver can tell the leader; stops
/// gracefully when stdin closes (the driver is done, or gone).
///
/// # Errors
/// The engine could not be built, or stopped with an error.
pub async fn serve_engine(
    url: &str,
    label: &str,
    spec: EngineSpec,
) -> Result<(), Box<dyn std::error::Error>> {
    // The database belongs to the driver: attached, never dropped here.
    let harness = Harness::new(SeaBackend::attach(url, "").with_store_config(
        orch::SeaStoreConfig::default().with_serialize_claims(spec.serialize_claims),
    ));
    let log = ExecutionLog::open(url, label).await?;
    let timings = spec.timings;
    let node = harness
        .builder()
        .state(log)
        .handler::<SoakCommand, _>(SoakHandler)
        .concurrency(spec.concurrency)
        .max_claim(spec.max_claim)
        .configure(move |c| {
            c.lease_ttl = timings.lease_ttl;
            c.lease_buffer = timings.lease_buffer;
            c.heartbeat_interval = timings.heartbeat_interval;
            c.reaper_interval = timings.reaper_interval;
            c.leader_ttl = timings.leader_ttl;
            c.poll_interval = timings.poll_interval;
            c.retry = RetryPolicy::new().base(timings.retry_base).jitter(0.0);
        })
        .build()
        .await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "worker {}", node.worker_id())?;
        out.flush()?;
    }
    let stop = CancellationToken::new();
    tokio::spawn(stop_when_stdin_closes(stop.clone()));
    node.run(stop).await?;
    Ok(())
}

async fn stop_when_stdin_closes(stop: CancellationToken) {
    let closed = tokio::task::spawn_blocking(|| {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    });
    let _ = closed.await;
    stop.cancel();
}
