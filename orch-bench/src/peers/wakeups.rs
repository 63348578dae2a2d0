//! Item 4 across processes: how soon a command pushed by one process starts on an idle
//! engine of another, on SQLite and MariaDB (which have no `LISTEN`: the engine's wake
//! probe looks every 20 ms), and what that idle engine costs.
//!
//! The engine runs in a child process (`orch-bench --wake-worker URL`) with the probe
//! handler, which records how long after its push each probe started (both processes read
//! the same system clock). Once it says "ready", the parent waits 300 ms, so the engine is
//! idle, then pushes `--latency` probes 20 ms apart from a client of its own, waits until
//! all have succeeded, closes the child's stdin and reads the delays it answers with. The
//! idle cost is `--idle`'s measurement ([`crate::idle`]) on a fresh database of its own.

use std::time::{Duration, Instant};

use orch::prelude::*;
use orch_tests::BackendKind;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use crate::child::ChildBench;
use crate::idle::Idle;
use crate::measure::{Percentiles, builder, on_fresh, percentiles, probe_engine, succeeded};
use crate::workload::{Probe, now_us};

type BoxError = Box<dyn std::error::Error>;

/// Seconds an idle engine is watched for its cost.
pub(crate) const IDLE_SECONDS: u64 = 5;
/// The bounds on push-to-start from another process: p50 and p99, milliseconds.
pub(crate) const P50_BOUND_MS: f64 = 50.0;
/// See [`P50_BOUND_MS`].
pub(crate) const P99_BOUND_MS: f64 = 150.0;
/// Pause between probes.
const PROBE_GAP: Duration = Duration::from_millis(20);
/// Longest wait for the probes to have run.
const PROBES_DEADLINE: Duration = Duration::from_secs(30);

/// One backend's cross-process wake-up figures, each or why it is missing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Wakeups {
    /// The backend's display name.
    pub(crate) backend: &'static str,
    /// Push-to-start from another process, when measured.
    pub(crate) across_processes: Option<Percentiles>,
    /// Why it was not.
    pub(crate) across_processes_error: Option<String>,
    /// What the idle engine costs, when measured.
    pub(crate) idle: Option<Idle>,
    /// Why it was not.
    pub(crate) idle_error: Option<String>,
}

/// Both figures on `kind`, each on a fresh database; failures are reported, not raised.
pub(crate) async fn measure(kind: BackendKind, probes: u64) -> Wakeups {
    let backend = crate::name(kind);
    eprintln!("[{backend}] {probes} probes pushed by another process to an idle engine");
    let latency = on_fresh(
        kind,
        |url| async move { across_processes(&url, probes).await },
    )
    .await;
    let (across_processes, across_processes_error) = match latency {
        Ok(p) => (Some(p), None),
        Err(e) => {
            eprintln!("[{backend}] cross-process wake-ups failed: {e}");
            (None, Some(e.to_string()))
        }
    };
    let (idle, idle_error) = match crate::idle::run(&[kind], IDLE_SECONDS).await {
        Ok(mut idle) if !idle.is_empty() => (Some(idle.remove(0)), None),
        Ok(_) => (None, Some("nothing measured".to_owned())),
        Err(e) => {
            eprintln!("[{backend}] idle cost failed: {e}");
            (None, Some(e.to_string()))
        }
    };
    Wakeups {
        backend,
        across_processes,
        across_processes_error,
        idle,
        idle_error,
    }
}

/// The parent's side: pushes `probes` probes to the child's idle engine on `url` and
/// returns their push-to-start delays.
async fn across_processes(url: &str, probes: u64) -> Result<Percentiles, BoxError> {
    // Built first, so the schema is in place before the child's engine starts.
    let client = builder(url).build().await?;
    let mut child = ChildBench::spawn(["--wake-worker", url])?;
    child.expect("ready").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..probes {
        client
            .push(Probe {
                pushed_us: now_us(),
            })
            .await?;
        tokio::time::sleep(PROBE_GAP).await;
    }
    let deadline = Instant::now() + PROBES_DEADLINE;
    while succeeded(&client).await? < probes {
        if Instant::now() > deadline {
            return Err(format!("the probes had not all run after {PROBES_DEADLINE:?}").into());
        }
        tokio::time::sleep(PROBE_GAP).await;
    }
    let answer = child.finish("delays").await?;
    let mut delays: Vec<u64> = answer
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if delays.len() as u64 != probes {
        let seen = delays.len();
        return Err(format!("the engine saw {seen} of {probes} probes start").into());
    }
    delays.sort_unstable();
    Ok(percentiles(&delays))
}

/// The child's side (`--wake-worker URL`): runs an engine with the probe handler, says
/// "ready", and once stdin closes stops it and says "delays" with each probe's delay in
/// microseconds, comma-separated.
pub(crate) async fn worker(url: &str) -> Result<(), BoxError> {
    let (engine, delays) = probe_engine(url).await?;
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    let mut out = tokio::io::stdout();
    out.write_all(b"ready\n").await?;
    out.flush().await?;
    // Stdin closes when the parent is done (or gone).
    let mut rest = Vec::new();
    BufReader::new(tokio::io::stdin())
        .read_to_end(&mut rest)
        .await?;
    stop.cancel();
    task.await??;
    let seen: Vec<String> = delays
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(u64::to_string)
        .collect();
    out.write_all(format!("delays {}\n", seen.join(",")).as_bytes())
        .await?;
    out.flush().await?;
    Ok(())
}
