//! One backend's measurements: pushes, drain, latency, memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orch::prelude::*;
use orch::{Orch, OrchBuilder};
use orch_tests::BackendKind;
use orch_tests::backends::FreshDatabase;
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use crate::args::Args;
use crate::workload::{Blob, Delays, Noop, NoopHandler, Probe, ProbeHandler, now_us};

/// Every figure for one backend.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct BackendResult {
    pub(crate) backend: &'static str,
    pub(crate) push_one_by_one_per_s: f64,
    pub(crate) push_concurrent_per_s: f64,
    pub(crate) push_batched_per_s: f64,
    /// Milliseconds per push of a large payload (`--blob-kib`, one by one): where a
    /// missing `TCP_NODELAY` shows as ~40 ms delayed-ACK stalls.
    pub(crate) push_blob_ms: Percentiles,
    /// The large payload's size in KiB.
    pub(crate) blob_kib: usize,
    pub(crate) drain_per_s: f64,
    pub(crate) drain_commands: u64,
    pub(crate) latency_in_process_ms: Percentiles,
    pub(crate) latency_other_client_ms: Percentiles,
    pub(crate) million: Option<Million>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) samples: usize,
}

/// Memory while draining a million commands.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct Million {
    pub(crate) drain_per_s: f64,
    pub(crate) rss_before_mib: f64,
    pub(crate) rss_peak_mib: f64,
    pub(crate) rss_after_mib: f64,
}

type BoxError = Box<dyn std::error::Error>;

/// An `Orch` builder on `url` with the benchmark's pool size and no link-time handlers.
pub(crate) fn builder(url: &str) -> OrchBuilder {
    builder_deleting(url, false)
}

/// [`builder`], deleting what succeeds when `delete` says so
/// (`SeaStoreConfig::delete_succeeded`).
pub(crate) fn builder_deleting(url: &str, delete: bool) -> OrchBuilder {
    Orch::builder()
        .database(url)
        .without_link_time_handlers()
        .store_config({
            let mut c = orch::SeaStoreConfig::default().with_delete_succeeded(delete);
            if !url.starts_with("sqlite") {
                c.max_connections = Some(20);
            }
            c
        })
}

/// How a drain's engine runs: its concurrency, its claims, and whether it deletes what
/// succeeds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DrainSettings {
    /// The engine's concurrency.
    pub(crate) workers: usize,
    /// Most commands claimed per round trip.
    pub(crate) claim: u32,
    /// `SeaStoreConfig::delete_succeeded`.
    pub(crate) delete: bool,
}

impl DrainSettings {
    /// The drain `args` ask for (`--workers`, `--claim`, `--delete-succeeded`).
    pub(crate) fn of(args: &Args) -> Self {
        Self {
            workers: args.workers,
            claim: args.claim,
            delete: args.delete_succeeded,
        }
    }
}

/// Every figure of `kind`, measured on a fresh database.
pub(crate) async fn backend(kind: BackendKind, args: &Args) -> Result<BackendResult, BoxError> {
    on_fresh(kind, |url| async move { run(kind, &url, args).await }).await
}

async fn run(kind: BackendKind, url: &str, args: &Args) -> Result<BackendResult, BoxError> {
    let name = crate::name(kind);
    eprintln!("[{name}] pushes");
    let client = builder(url).build().await?;
    let mut out = BackendResult {
        backend: name,
        drain_commands: args.drain,
        ..BackendResult::default()
    };

    let started = Instant::now();
    for n in 0..args.push {
        client.push(Noop { n }).await?;
    }
    out.push_one_by_one_per_s = rate(args.push, started);
    clear(&client).await?;

    out.push_concurrent_per_s = push_concurrent(&client, args.push, args.producers).await?;
    clear(&client).await?;

    eprintln!("[{name}] {} KiB pushes", args.blob_kib);
    let blob = "x".repeat(args.blob_kib * 1024);
    let mut samples = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        client.push(Blob { data: blob.clone() }).await?;
        samples.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    samples.sort_unstable();
    out.push_blob_ms = percentiles(&samples);
    out.blob_kib = args.blob_kib;
    clear(&client).await?;

    eprintln!("[{name}] batched push of {}", args.drain);
    let started = Instant::now();
    fill(&client, args.drain).await?;
    out.push_batched_per_s = rate(args.drain, started);

    eprintln!(
        "[{name}] drain of {} with {} workers",
        args.drain, args.workers
    );
    out.drain_per_s = drain(url, &client, DrainSettings::of(args), args.drain)
        .await?
        .0;
    clear(&client).await?;

    eprintln!("[{name}] push-to-start latency");
    out.latency_in_process_ms = latency(url, args, true).await?;
    out.latency_other_client_ms = latency(url, args, false).await?;

    if args.million {
        eprintln!("[{name}] a million commands (memory)");
        fill(&client, 1_000_000).await?;
        let before = rss_mib();
        let (per_s, peak) = drain(url, &client, DrainSettings::of(args), 1_000_000).await?;
        out.million = Some(Million {
            drain_per_s: per_s,
            rss_before_mib: before,
            rss_peak_mib: peak,
            rss_after_mib: rss_mib(),
        });
        clear(&client).await?;
    }
    Ok(out)
}

/// Runs `f` on the URL of a fresh database of `kind`, then drops that database.
pub(crate) async fn on_fresh<T, F, Fut>(kind: BackendKind, f: F) -> Result<T, BoxError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<T, BoxError>>,
{
    let db = FreshDatabase::create(kind).await;
    let result = f(db.url.clone()).await;
    db.drop_database().await;
    result
}

/// Fills the database at `url` with `n` no-op commands and drains them as `settings`
/// say; returns commands/s. The drain alone, without the other figures of [`backend`].
pub(crate) async fn fill_and_drain(
    url: &str,
    n: u64,
    settings: DrainSettings,
) -> Result<f64, BoxError> {
    let client = builder(url).build().await?;
    fill(&client, n).await?;
    Ok(drain(url, &client, settings, n).await?.0)
}

/// `--pushes-only`: the concurrent single pushes alone, `args.pushes_only` runs on one
/// fresh database of `kind`; returns each run's pushes/s.
pub(crate) async fn pushes_only(kind: BackendKind, args: &Args) -> Result<Vec<f64>, BoxError> {
    on_fresh(kind, |url| async move {
        let client = builder(&url).build().await?;
        let mut runs = Vec::new();
        for _ in 0..args.pushes_only {
            runs.push(push_concurrent(&client, args.push, args.producers).await?);
            clear(&client).await?;
        }
        Ok::<_, BoxError>(runs)
    })
    .await
}

/// Single pushes of `total` no-op commands (rounded down to a multiple of `producers`),
/// each its own transaction, from `producers` concurrent tasks; returns pushes/s.
pub(crate) async fn push_concurrent(
    client: &Orch,
    total: u64,
    producers: usize,
) -> Result<f64, BoxError> {
    let started = Instant::now();
    let per = total / producers as u64;
    let mut tasks = Vec::new();
    for p in 0..producers as u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per {
                client.push(Noop { n: p * per + n }).await?;
            }
            Ok::<_, orch::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(rate(per * producers as u64, started))
}

/// `n` over the time since `started`, per second.
pub(crate) fn rate(n: u64, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

/// Pushes `n` no-op commands, a thousand per batch.
pub(crate) async fn fill(client: &Orch, n: u64) -> Result<(), BoxError> {
    let mut next = 0;
    while next < n {
        let end = (next + 1000).min(n);
        client.push_many((next..end).map(|n| Noop { n })).await?;
        next = end;
    }
    Ok(())
}

/// Drains `n` pre-filled commands as `settings` say; returns commands/s and the peak RSS
/// seen. The clock starts once the table is settled and the engine's pools are open (see
/// `ready.rs`), as for the scale-out drains.
async fn drain(
    url: &str,
    client: &Orch,
    settings: DrainSettings,
    n: u64,
) -> Result<(f64, f64), BoxError> {
    crate::ready::settle(client).await?;
    let engine = builder_deleting(url, settings.delete)
        .handler::<Noop, _>(NoopHandler)
        .concurrency(settings.workers)
        .max_claim(settings.claim)
        .build()
        .await?;
    crate::ready::open_pool(&engine, crate::ready::POOL).await?;
    crate::ready::open_claims_pool(&engine).await?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    let mut peak = rss_mib();
    until_drained(client, started, || peak = peak.max(rss_mib())).await?;
    let per_s = rate(n, started);
    stop.cancel();
    task.await??;
    // Deleting: every command succeeded once none is left at all.
    let (done, expected) = if settings.delete {
        (n - n.min(rows(client).await?), n)
    } else {
        (succeeded(client).await?, n)
    };
    if done != expected {
        return Err(format!("drain ended with {done} of {n} commands succeeded").into());
    }
    Ok((per_s, peak))
}

/// Push-to-start delays of probes pushed 20 ms apart to an idle engine, either from the
/// engine's own handle (in-process wake-up) or from another client (database wake-up or
/// polling).
async fn latency(url: &str, args: &Args, in_process: bool) -> Result<Percentiles, BoxError> {
    let (engine, delays) = probe_engine(url).await?;
    let other = builder(url).build().await?;
    let pusher = if in_process { &engine } else { &other };
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..args.latency {
        pusher
            .push(Probe {
                pushed_us: now_us(),
            })
            .await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while delays_len(&delays) < args.latency as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await??;
    clear(&engine).await?;
    let mut samples = delays
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    samples.sort_unstable();
    Ok(percentiles(&samples))
}

/// An engine on `url` that runs [`Probe`]s, and where their push-to-start delays go.
pub(crate) async fn probe_engine(url: &str) -> Result<(Orch, Arc<Delays>), BoxError> {
    let delays = Arc::new(Delays::default());
    let engine = builder(url)
        .handler::<Probe, _>(ProbeHandler)
        .state(delays.clone())
        .concurrency(16)
        .build()
        .await?;
    Ok((engine, delays))
}

fn delays_len(d: &Delays) -> usize {
    d.0.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len()
}

pub(crate) fn percentiles(sorted_us: &[u64]) -> Percentiles {
    let at = |q: f64| {
        if sorted_us.is_empty() {
            return 0.0;
        }
        let i = ((sorted_us.len() as f64 - 1.0) * q).round() as usize;
        sorted_us[i] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: at(1.0),
        samples: sorted_us.len(),
    }
}

/// Waits until no command of `client`'s table is pending or running, calling `each_look`
/// after every pause; an error once the drain started at `started` has run 30 minutes.
pub(crate) async fn until_drained(
    client: &Orch,
    started: Instant,
    mut each_look: impl FnMut(),
) -> Result<(), BoxError> {
    let mut pause = WHILE_PENDING;
    loop {
        tokio::time::sleep(pause).await;
        each_look();
        match next_look(client).await? {
            Some(next) => pause = next,
            None => return Ok(()),
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err("drain did not finish within 30 minutes".into());
        }
    }
}

/// How long a drain's watcher waits before it looks again: [`WHILE_PENDING`] while any
/// command is pending, [`WHILE_RUNNING`] once the last are running, `None` once none is
/// either. Two probes that stop at the first row found, so looking costs the database next
/// to nothing (counting a backlog of 100,000 rows cost PostgreSQL 15–60 ms per poll, a
/// quarter of a core beside the drain); looking often only at the end times a drain of a
/// second to within a few milliseconds rather than to within one 50 ms poll.
async fn next_look(client: &Orch) -> Result<Option<Duration>, BoxError> {
    let db = client.store().connection();
    let t = client.store().commands_table();
    let sql = format!(
        "SELECT (SELECT 1 FROM {t} WHERE status = 'pending' LIMIT 1), (SELECT 1 FROM {t} WHERE status = 'running' LIMIT 1)"
    );
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("no row")?;
    let pending: Option<i32> = row.try_get_by_index(0)?;
    let running: Option<i32> = row.try_get_by_index(1)?;
    Ok(if pending.is_some() {
        Some(WHILE_PENDING)
    } else if running.is_some() {
        Some(WHILE_RUNNING)
    } else {
        None
    })
}

/// A drain watcher's pause while commands are pending.
const WHILE_PENDING: Duration = Duration::from_millis(50);
/// A drain watcher's pause once every command left is running.
const WHILE_RUNNING: Duration = Duration::from_millis(2);

/// How many commands have succeeded.
pub(crate) async fn succeeded(client: &Orch) -> Result<u64, BoxError> {
    let db = client.store().connection();
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE status = 'succeeded'",
        client.store().commands_table()
    );
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("no count")?;
    Ok(u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0))
}

/// How many command rows there are, whatever their status.
async fn rows(client: &Orch) -> Result<u64, BoxError> {
    let db = client.store().connection();
    let sql = format!("SELECT COUNT(*) FROM {}", client.store().commands_table());
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("no count")?;
    Ok(u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0))
}

/// Deletes every command.
pub(crate) async fn clear(client: &Orch) -> Result<(), BoxError> {
    let db = client.store().connection();
    db.execute_unprepared(&format!("DELETE FROM {}", client.store().commands_table()))
        .await?;
    Ok(())
}

/// This process's resident memory in MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
