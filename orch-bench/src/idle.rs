//! What an idle engine costs (`--idle SECONDS`): an engine with nothing to do runs for that
//! long on each backend while the process's CPU time is read from `/proc/self/stat`, and on
//! the servers the statements it sends are counted by the server (MariaDB's `Questions`,
//! PostgreSQL's committed transactions in `pg_stat_database`). Nothing else may use the
//! server meanwhile: these counters are the server's, not the engine's.

use std::time::{Duration, Instant};

use orch::prelude::*;
use orch_tests::BackendKind;
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use crate::measure::{builder, on_fresh};
use crate::workload::{Noop, NoopHandler};

type BoxError = Box<dyn std::error::Error>;

/// One backend's idle figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Idle {
    pub(crate) backend: &'static str,
    /// How long the engine sat idle.
    pub(crate) seconds: f64,
    /// The process's CPU time over that time, as a share of one core.
    pub(crate) cpu_percent: f64,
    /// Statements (MariaDB) or transactions (PostgreSQL) per second the server saw;
    /// `None` on SQLite, which has no server to ask.
    pub(crate) server_per_s: Option<f64>,
    /// What `server_per_s` counts.
    pub(crate) counted: &'static str,
}

/// Idle figures on every backend of `backends`, each on a fresh database.
pub(crate) async fn run(backends: &[BackendKind], seconds: u64) -> Result<Vec<Idle>, BoxError> {
    let mut out = Vec::new();
    for &kind in backends {
        let name = crate::name(kind);
        eprintln!("[{name}] an idle engine for {seconds} s");
        out.push(on_fresh(kind, |url| async move { one(kind, &url, seconds).await }).await?);
    }
    Ok(out)
}

async fn one(kind: BackendKind, url: &str, seconds: u64) -> Result<Idle, BoxError> {
    let engine = builder(url).handler::<Noop, _>(NoopHandler).build().await?;
    // A separate client reads the server's counters, so the engine's pool is left alone.
    let reader = builder(url).build().await?;
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    // Let the engine start its services and settle into idling.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (counted, before) = server_count(kind, &reader).await?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let (_, after) = server_count(kind, &reader).await?;
    stop.cancel();
    task.await??;
    Ok(Idle {
        backend: crate::name(kind),
        seconds: elapsed,
        cpu_percent: cpu / elapsed * 100.0,
        // The reader's own question (one per reading) is taken off.
        server_per_s: before
            .zip(after)
            .map(|(b, a)| (a.saturating_sub(b).saturating_sub(1)) as f64 / elapsed),
        counted,
    })
}

/// The server's running count of statements or transactions.
async fn server_count(
    kind: BackendKind,
    client: &Orch,
) -> Result<(&'static str, Option<u64>), BoxError> {
    let db = client.store().connection();
    let (counted, sql) = match kind {
        BackendKind::Sqlite => return Ok(("nothing (no server)", None)),
        BackendKind::MySql => (
            "statements (Questions)",
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'QUESTIONS'",
        ),
        BackendKind::Postgres => (
            "transactions (xact_commit + xact_rollback)",
            "SELECT CAST(SUM(xact_commit + xact_rollback) AS TEXT) FROM pg_stat_database",
        ),
    };
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await?
        .ok_or("no row")?;
    let text: String = row.try_get_by_index(0)?;
    Ok((counted, Some(text.trim().parse()?)))
}

/// This process's user and system CPU time in seconds (Linux), 0 where unreadable.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // Linux reports these in clock ticks of 1/100 s on every common configuration.
    ticks / 100.0
}
