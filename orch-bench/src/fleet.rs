//! Scale-out: the same backlog drained by one engine process, then by several at once
//! against the same database (`--processes N`). Each engine runs in a child process of its
//! own (`orch-bench --drain-worker URL`, with `--workers` and `--claim` each), so one and
//! several processes are measured the same way; the parent fills the table, starts the
//! children together, polls until nothing is left, then stops them and reads how many
//! commands each ran.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orch::prelude::*;
use orch_tests::BackendKind;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::args::Args;
use crate::measure::{builder, clear, fill, on_fresh, rate, unfinished};
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
    /// One process alone.
    pub(crate) one_per_s: f64,
    /// `processes` processes together.
    pub(crate) processes: usize,
    pub(crate) all_per_s: f64,
    /// Commands each of those processes ran.
    pub(crate) split: Vec<u64>,
}

impl Fleet {
    /// The processes together against one alone.
    pub(crate) fn ratio(&self) -> f64 {
        self.all_per_s / self.one_per_s
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
}

impl Plan {
    /// The plan `--processes` asks for.
    pub(crate) fn of(args: &Args) -> Self {
        Self {
            commands: args.drain,
            workers: args.workers,
            claim: args.claim,
            processes: args.processes,
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

/// Scale-out on one server backend, on a fresh database.
pub(crate) async fn one_backend(kind: BackendKind, plan: Plan) -> Result<Fleet, BoxError> {
    let name = crate::name(kind);
    on_fresh(kind, |url| async move {
        eprintln!("[{name}] drain of {} by 1 process", plan.commands);
        let (one_per_s, _) = drain_by(&url, 1, plan).await?;
        eprintln!(
            "[{name}] drain of {} by {} processes",
            plan.commands, plan.processes
        );
        let (all_per_s, split) = drain_by(&url, plan.processes, plan).await?;
        Ok(Fleet {
            backend: name,
            commands: plan.commands,
            workers: plan.workers,
            claim: plan.claim,
            one_per_s,
            processes: plan.processes,
            all_per_s,
            split,
        })
    })
    .await
}

/// Fills the table, then drains it with `processes` child engines started together;
/// returns commands/s and how many each child ran.
async fn drain_by(url: &str, processes: usize, plan: Plan) -> Result<(f64, Vec<u64>), BoxError> {
    let client = builder(url).build().await?;
    fill(&client, plan.commands).await?;
    let mut children = Vec::new();
    for _ in 0..processes {
        children.push(spawn_worker(url, plan)?);
    }
    // Each child says "ready" once its engine is built; the clock starts when all are.
    for child in &mut children {
        child.ready().await?;
    }
    let started = Instant::now();
    for child in &mut children {
        child.go().await?;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !unfinished(&client).await? {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err("drain did not finish within 30 minutes".into());
        }
    }
    let per_s = rate(plan.commands, started);
    let mut split = Vec::new();
    for child in children {
        split.push(child.stop().await?);
    }
    let ran: u64 = split.iter().sum();
    if ran < plan.commands {
        return Err(format!("the processes ran {ran} of {} commands", plan.commands).into());
    }
    clear(&client).await?;
    Ok((per_s, split))
}

/// A child engine process and its pipes.
struct Worker {
    child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

fn spawn_worker(url: &str, plan: Plan) -> Result<Worker, BoxError> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--drain-worker")
        .arg(url)
        .arg("--workers")
        .arg(plan.workers.to_string())
        .arg("--claim")
        .arg(plan.claim.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    Ok(Worker {
        child,
        lines: BufReader::new(stdout).lines(),
    })
}

impl Worker {
    async fn expect(&mut self, word: &str) -> Result<String, BoxError> {
        let line = self
            .lines
            .next_line()
            .await?
            .ok_or_else(|| format!("a drain worker exited before saying {word:?}"))?;
        line.strip_prefix(word)
            .map(|rest| rest.trim().to_owned())
            .ok_or_else(|| format!("a drain worker said {line:?}, not {word:?}").into())
    }

    async fn ready(&mut self) -> Result<(), BoxError> {
        self.expect("ready").await.map(drop)
    }

    async fn go(&mut self) -> Result<(), BoxError> {
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        stdin.write_all(b"go\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Closes its stdin (it stops) and returns how many commands it ran.
    async fn stop(mut self) -> Result<u64, BoxError> {
        drop(self.child.stdin.take());
        let ran = self.expect("ran").await?.parse()?;
        self.child.wait().await?;
        Ok(ran)
    }
}

/// The child's side: builds an engine on `url` that counts what it runs, says "ready",
/// runs it from "go" on stdin until stdin closes, then says "ran N".
pub(crate) async fn worker(url: &str, args: &Args) -> Result<(), BoxError> {
    let ran = Arc::new(AtomicU64::new(0));
    // Ten connections each (plus the claims pool's four): four processes stay well inside
    // a server's default connection limit (PostgreSQL's is 100).
    let engine = builder(url)
        .store_config(orch::SeaStoreConfig::default().with_max_connections(Some(10)))
        .handler::<Noop, _>(Counting(ran.clone()))
        .concurrency(args.workers)
        .max_claim(args.claim)
        .build()
        .await?;
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
