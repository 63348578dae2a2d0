//! Scale-out: the same backlog drained by one engine process and by several at once
//! against the same database (`--processes N`). Each engine runs in a child process of its
//! own (`orch-bench --drain-worker URL`, with `--workers` and `--claim` each), so one and
//! several processes are measured the same way; the parent fills the table, starts the
//! children together, polls until nothing is left, then stops them and reads how many
//! commands each ran.
//!
//! Every drain runs on a fresh database of its own, in the order one, N, N, one, and each
//! side's figure is the mean of its two drains: a drain never starts on the rows an
//! earlier one left behind (dead tuples and index entries no vacuum has removed yet), and
//! drift across the run (the server's caches warming, a background job) weighs on both
//! sides alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use orch::prelude::*;
use orch_tests::BackendKind;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::args::Args;
use crate::child::ChildBench;
use crate::measure::{builder, fill, on_fresh, rate, until_drained};
use crate::ready::{POOL, open_claims_pool, open_pool, settle};
use crate::workload::Noop;

type BoxError = Box<dyn std::error::Error>;

/// One backend's scale-out figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fleet {
    pub(crate) backend: &'static str,
    pub(crate) commands: u64,
    /// Workers of each process.
    pub(crate) workers: usize,
    /// Most commands each process claims per round trip.
    pub(crate) claim: u32,
    /// One process alone: the mean of [`Self::one_runs`].
    pub(crate) one_per_s: f64,
    /// Each drain by one process alone, commands/s.
    pub(crate) one_runs: Vec<f64>,
    /// Processes draining together.
    pub(crate) processes: usize,
    /// `processes` processes together: the mean of [`Self::all_runs`].
    pub(crate) all_per_s: f64,
    /// Each drain by the processes together, commands/s.
    pub(crate) all_runs: Vec<f64>,
    /// Commands each of those processes ran, per drain.
    pub(crate) splits: Vec<Vec<u64>>,
}

impl Fleet {
    /// The processes together against one alone.
    pub(crate) fn ratio(&self) -> f64 {
        self.all_per_s / self.one_per_s
    }

    /// Each drain's split, as "a · b · c · d / e · f · g · h".
    pub(crate) fn split_text(&self) -> String {
        let drains: Vec<String> = self
            .splits
            .iter()
            .map(|split| {
                let each: Vec<String> = split.iter().map(u64::to_string).collect();
                each.join(" · ")
            })
            .collect();
        drains.join(" / ")
    }
}

/// What a scale-out run drains, and with how many processes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Commands in the backlog.
    pub(crate) commands: u64,
    /// Workers of each process.
    pub(crate) workers: usize,
    /// Most commands each process claims per round trip.
    pub(crate) claim: u32,
    /// Processes draining together.
    pub(crate) processes: usize,
    /// Whether claims take turns (`SeaStoreConfig::serialize_claims`; SQLite ignores it).
    pub(crate) serialize_claims: bool,
}

impl Plan {
    /// The plan `--processes` asks for.
    pub(crate) fn of(args: &Args) -> Self {
        Self {
            commands: args.drain,
            workers: args.workers,
            claim: args.claim,
            processes: args.processes,
            serialize_claims: args.serialize_claims,
        }
    }
}

/// Scale-out on every server backend of `backends` (SQLite is one file on one host and is
/// left out).
pub(crate) async fn run(backends: &[BackendKind], plan: Plan) -> Result<Vec<Fleet>, BoxError> {
    let mut out = Vec::new();
    for &kind in backends {
        if kind == BackendKind::Sqlite {
            continue;
        }
        out.push(one_backend(kind, plan).await?);
    }
    Ok(out)
}

/// Scale-out on one server backend: one process, N, N, one, each drain on a fresh database.
pub(crate) async fn one_backend(kind: BackendKind, plan: Plan) -> Result<Fleet, BoxError> {
    let name = crate::name(kind);
    let (mut one_runs, mut all_runs, mut splits) = (Vec::new(), Vec::new(), Vec::new());
    // (processes, whether the drain is the N-process side): by position, so that
    // `--processes 1` compares one process with itself rather than leaving a side empty.
    for (processes, together) in [
        (1, false),
        (plan.processes, true),
        (plan.processes, true),
        (1, false),
    ] {
        eprintln!(
            "[{name}] drain of {} by {processes} process(es)",
            plan.commands
        );
        let (per_s, split) = on_fresh(
            kind,
            |url| async move { drain_by(&url, processes, plan).await },
        )
        .await?;
        if together {
            all_runs.push(per_s);
            splits.push(split);
        } else {
            one_runs.push(per_s);
        }
    }
    Ok(Fleet {
        backend: name,
        commands: plan.commands,
        workers: plan.workers,
        claim: plan.claim,
        one_per_s: mean(&one_runs),
        one_runs,
        processes: plan.processes,
        all_per_s: mean(&all_runs),
        all_runs,
        splits,
    })
}

fn mean(runs: &[f64]) -> f64 {
    runs.iter().sum::<f64>() / runs.len().max(1) as f64
}

/// Fills the table, then drains it with `processes` child engines started together;
/// returns commands/s and how many each child ran.
async fn drain_by(url: &str, processes: usize, plan: Plan) -> Result<(f64, Vec<u64>), BoxError> {
    let client = builder(url).build().await?;
    fill(&client, plan.commands).await?;
    settle(&client).await?;
    let mut children = Vec::new();
    for _ in 0..processes {
        children.push(spawn_worker(url, plan)?);
    }
    // Each child says "ready" once its engine is built; the clock starts when all are.
    for child in &mut children {
        child.expect("ready").await?;
    }
    let started = Instant::now();
    for child in &mut children {
        child.send("go").await?;
    }
    until_drained(&client, started, || {}).await?;
    let per_s = rate(plan.commands, started);
    let mut split = Vec::new();
    for child in children {
        split.push(child.finish("ran").await?.parse()?);
    }
    let ran: u64 = split.iter().sum();
    if ran < plan.commands {
        return Err(format!("the processes ran {ran} of {} commands", plan.commands).into());
    }
    Ok((per_s, split))
}

/// A drain engine in a child process (`orch-bench --drain-worker URL`), as `plan` says.
fn spawn_worker(url: &str, plan: Plan) -> Result<ChildBench, BoxError> {
    let mut args = vec![
        "--drain-worker".to_owned(),
        url.to_owned(),
        "--workers".to_owned(),
        plan.workers.to_string(),
        "--claim".to_owned(),
        plan.claim.to_string(),
    ];
    if plan.serialize_claims {
        args.push("--serialize-claims".to_owned());
    }
    ChildBench::spawn(args)
}

/// The child's side: builds an engine on `url` that counts what it runs, says "ready",
/// runs it from "go" on stdin until stdin closes, then says "ran N".
pub(crate) async fn worker(url: &str, args: &Args) -> Result<(), BoxError> {
    let ran = Arc::new(AtomicU64::new(0));
    // Ten connections each (plus the claims pool's four): four processes stay well inside
    // a server's default connection limit (PostgreSQL's is 100).
    let engine = builder(url)
        .store_config(
            orch::SeaStoreConfig::default()
                .with_max_connections(Some(POOL))
                .with_serialize_claims(args.serialize_claims),
        )
        .handler::<Noop, _>(Counting(ran.clone()))
        .concurrency(args.workers)
        .max_claim(args.claim)
        .build()
        .await?;
    open_pool(&engine, POOL).await?;
    open_claims_pool(&engine).await?;
    let mut out = tokio::io::stdout();
    out.write_all(b"ready\n").await?;
    out.flush().await?;
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    stdin.read_line(&mut line).await?;
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    // Stdin closes when the parent is done (or gone).
    let mut rest = Vec::new();
    stdin.read_to_end(&mut rest).await?;
    stop.cancel();
    task.await??;
    out.write_all(format!("ran {}\n", ran.load(Ordering::Relaxed)).as_bytes())
        .await?;
    out.flush().await?;
    Ok(())
}

/// Runs [`Noop`] and counts it.
struct Counting(Arc<AtomicU64>);

impl Handler<Noop> for Counting {
    async fn run(&self, _cmd: Noop, _ctx: &Ctx) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
