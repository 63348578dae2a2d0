//! `--peers`: orch's drain and single-push figures beside the closest peers' (River,
//! apalis) and the bare-SQL limits, all measured in one run on one machine, and each target
//! of the performance issue as a ratio against its bar.
//!
//! orch's side drains `--drain` pre-filled no-op commands on a fresh database per backend
//! and configuration: orch's defaults (100 workers, claims of 100), 1,000 workers claiming
//! 500, and on PostgreSQL 5,000 workers claiming 500; a backend's peak is the best of them.
//! PostgreSQL's two wide configurations run again deleting what succeeds
//! (`SeaStoreConfig::delete_succeeded`), whose best is a peak of its own. Each drain's clock
//! starts once the filled table is vacuumed and analyzed (as the bare-SQL drain limit's is)
//! and the engine's connections are open.
//! Then `--push` single pushes from `--producers` tasks on PostgreSQL, one transaction each,
//! after an untimed round that opens the pool's connections, and lone claims of the default
//! and the wide size from a backlog ([`claims`]), quoted when item 1 or 2 misses its bar.
//! On SQLite and MariaDB, `--latency` probes pushed by one process to an idle engine of
//! another, and what that idle engine costs ([`wakeups`]).
//!
//! The peers' side runs the scripts in `--peer-bench` with `JOBS` = `--peer-jobs`
//! ([`scripts`]): River and apalis at each of `--peer-workers` on PostgreSQL, River on a
//! SQLite file at those up to 1,000, pgbench's drain and commit limits, and this
//! repository's `scripts/mariadb-drain-limit.sh`. Peers of a backend missing from
//! `--backends` are skipped. The SQL limit scripts read their own settings (`N`,
//! `SECONDS_TO_RUN`) from the environment. [`targets`] turns both sides into the table.

mod claims;
mod parse;
mod scripts;
pub(crate) mod targets;
pub(crate) mod wakeups;

use std::fmt;
use std::path::{Path, PathBuf};

use orch::config::{DEFAULT_CONCURRENCY, DEFAULT_MAX_CLAIM};
use orch_tests::BackendKind;
use serde::Serialize;

use crate::args::Args;
use crate::measure;
use scripts::Peer;
pub(crate) use scripts::PeerFigure;
use scripts::Script;
pub(crate) use targets::Target;

/// Workers of orch's second drain configuration, and of the 1,000-worker targets.
pub(crate) const MANY_WORKERS: usize = 1_000;
/// Workers of orch's widest drain, on PostgreSQL only.
pub(crate) const MOST_WORKERS: usize = 5_000;
/// Most commands claimed per round trip by the wide configurations.
const WIDE_CLAIM: u32 = 500;
/// River on SQLite runs at the `--peer-workers` up to this many.
const SQLITE_MAX_WORKERS: usize = 1_000;
/// The MariaDB limit script, relative to the workspace root.
const MARIADB_LIMIT: &str = "scripts/mariadb-drain-limit.sh";
/// PostgreSQL's commit limit on orch's own table, in orch's `scripts/`.
const ORCH_TABLE_COMMIT_LIMIT: &str = "scripts/pg-commit-limit-orch-table.sh";

type BoxError = Box<dyn std::error::Error>;

/// Everything `--peers` measured, and the targets computed from it.
#[derive(Debug, Serialize)]
pub(crate) struct PeersReport {
    /// Where the figures come from.
    pub(crate) machine: Machine,
    /// Commands each orch drain ran.
    pub(crate) drain_commands: u64,
    /// Jobs each peer drain ran.
    pub(crate) peer_jobs: u64,
    /// The peers' scripts directory.
    pub(crate) peer_bench: PathBuf,
    /// orch's side.
    pub(crate) orch: OrchFigures,
    /// The peers' side, missing figures included.
    pub(crate) peers: Vec<PeerFigure>,
    /// One row per target of the issue.
    pub(crate) targets: Vec<Target>,
}

/// orch's figures.
#[derive(Debug, Serialize)]
pub(crate) struct OrchFigures {
    /// One drain per backend and configuration.
    pub(crate) drains: Vec<OrchDrain>,
    /// Concurrent producers of the single pushes.
    pub(crate) producers: usize,
    /// Single pushes per second on PostgreSQL; `None` when not measured.
    pub(crate) push_concurrent_per_s: Option<f64>,
    /// Why the pushes were not measured.
    pub(crate) push_error: Option<String>,
    /// Scale-out per server backend: one process, then [`SCALE_OUT_PROCESSES`] together.
    pub(crate) scale_out: Vec<ScaleOut>,
    /// Lone PostgreSQL claims of the default and the wide size (see [`claims`]); `None`
    /// when not measured.
    pub(crate) lone_claims: Option<claims::LoneClaims>,
    /// Why the lone claims were not measured.
    pub(crate) lone_claims_error: Option<String>,
    /// Wake-ups across processes and the idle cost, on SQLite and MariaDB (item 4).
    pub(crate) wakeups: Vec<wakeups::Wakeups>,
}

/// Engine processes draining together in the scale-out figure (item 5).
pub(crate) const SCALE_OUT_PROCESSES: usize = 4;

/// One backend's scale-out figure, or why it is missing.
#[derive(Debug, Serialize)]
pub(crate) struct ScaleOut {
    /// The backend's display name.
    pub(crate) backend: &'static str,
    /// The figures, when measured.
    pub(crate) fleet: Option<crate::fleet::Fleet>,
    /// Why they are missing.
    pub(crate) error: Option<String>,
}

/// One drain of orch's: a backend at one configuration.
#[derive(Debug, Serialize)]
pub(crate) struct OrchDrain {
    /// The backend's display name.
    pub(crate) backend: &'static str,
    /// The engine's concurrency.
    pub(crate) workers: usize,
    /// Most commands claimed per round trip.
    pub(crate) claim: u32,
    /// Whether the engine deleted what succeeded instead of keeping it.
    pub(crate) delete_succeeded: bool,
    /// Commands per second; `None` when the drain failed.
    pub(crate) per_s: Option<f64>,
    /// Why the drain failed.
    pub(crate) error: Option<String>,
}

/// The machine: CPU model, cores and kernel release.
#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

impl Machine {
    /// This machine, from `/proc` (the kernel release is what `uname -r` prints).
    fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
        Self {
            cpu: cpu.unwrap_or_else(|| "unknown CPU".to_owned()),
            cores: cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count(),
            kernel: kernel.map_or_else(|| "unknown".to_owned(), |k| k.trim().to_owned()),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} cores, Linux {}",
            self.cpu, self.cores, self.kernel
        )
    }
}

/// Measures orch's side, then the peers', and computes the targets. Only a missing
/// `--peer-bench` directory is an error; failed measurements are reported as missing.
pub(crate) async fn run(args: &Args) -> Result<PeersReport, BoxError> {
    let peer_bench = scripts::resolve(&args.peer_bench)
        .map_err(|e| format!("--peer-bench: the peers' scripts directory {e}"))?;
    if !peer_bench.is_dir() {
        let shown = peer_bench.display();
        return Err(format!("--peer-bench: {shown} is not a directory").into());
    }
    let machine = Machine::here();
    eprintln!(
        "[peers] on {machine}; peer scripts in {}",
        peer_bench.display()
    );
    let orch = orch_side(args).await;
    let peer_jobs = args.peer_jobs.unwrap_or(args.drain);
    let peers = tokio::task::spawn_blocking({
        let (dir, workers) = (peer_bench.clone(), args.peer_workers.clone());
        let backends = args.backends.clone();
        move || peer_side(&dir, peer_jobs, &workers, &backends)
    })
    .await?;
    let mut peers = peers;
    if args.backends.contains(&BackendKind::Postgres) {
        peers.push(commit_limit_on_orch_table().await);
    }
    let targets = targets::all(&orch, &peers);
    Ok(PeersReport {
        machine,
        drain_commands: args.drain,
        peer_jobs,
        peer_bench,
        orch,
        peers,
        targets,
    })
}

/// orch's drains per backend and configuration, and the single pushes on PostgreSQL.
async fn orch_side(args: &Args) -> OrchFigures {
    let mut drains = Vec::new();
    for &kind in &args.backends {
        let backend = crate::name(kind);
        let mut configurations = vec![
            (DEFAULT_CONCURRENCY, DEFAULT_MAX_CLAIM, false),
            (MANY_WORKERS, WIDE_CLAIM, false),
        ];
        if kind == BackendKind::Postgres {
            // Item 2 allows a documented delete-on-success mode beside rows kept: both.
            configurations.extend([
                (MOST_WORKERS, WIDE_CLAIM, false),
                (MANY_WORKERS, WIDE_CLAIM, true),
                (MOST_WORKERS, WIDE_CLAIM, true),
            ]);
        }
        for (workers, claim, delete) in configurations {
            let settings = measure::DrainSettings {
                workers,
                claim,
                delete,
            };
            eprintln!(
                "[{backend}] drain of {} with {workers} workers, claims of {claim}{}",
                args.drain,
                if delete {
                    ", deleting what succeeds"
                } else {
                    ""
                }
            );
            let result = measure::on_fresh(kind, |url| async move {
                measure::fill_and_drain(&url, args.drain, settings).await
            })
            .await;
            let (per_s, error) = split(result, backend);
            drains.push(OrchDrain {
                backend,
                workers,
                claim,
                delete_succeeded: delete,
                per_s,
                error,
            });
        }
    }
    let (push_concurrent_per_s, push_error) = if args.backends.contains(&BackendKind::Postgres) {
        eprintln!(
            "[postgres] {} single pushes from {} producers",
            args.push, args.producers
        );
        let result = measure::on_fresh(BackendKind::Postgres, |url| async move {
            let client = measure::builder(&url).build().await?;
            // Untimed first, as pgbench times its limits without connecting: the pool
            // opens its connections here.
            let warm_up = 20 * args.producers as u64;
            measure::push_concurrent(&client, warm_up, args.producers).await?;
            measure::push_concurrent(&client, args.push, args.producers).await
        })
        .await;
        split(result, "postgres")
    } else {
        (None, Some("postgres not in --backends".to_owned()))
    };
    let (lone_claims, lone_claims_error) = if args.backends.contains(&BackendKind::Postgres) {
        eprintln!("[postgres] lone claims of {DEFAULT_MAX_CLAIM} and of {WIDE_CLAIM}");
        match claims::measure(DEFAULT_MAX_CLAIM, WIDE_CLAIM).await {
            Ok(lone) => (Some(lone), None),
            Err(e) => {
                eprintln!("[postgres] lone claims failed: {e}");
                (None, Some(e.to_string()))
            }
        }
    } else {
        (None, Some("postgres not in --backends".to_owned()))
    };
    let mut scale_out = Vec::new();
    for &kind in &args.backends {
        if kind == BackendKind::Sqlite {
            continue;
        }
        let plan = crate::fleet::Plan {
            commands: args.drain,
            workers: MANY_WORKERS,
            claim: WIDE_CLAIM,
            processes: SCALE_OUT_PROCESSES,
            // Several processes on one server are what claims taking turns is for.
            serialize_claims: true,
        };
        let backend = crate::name(kind);
        let (fleet, error) = match crate::fleet::one_backend(kind, plan).await {
            Ok(fleet) => (Some(fleet), None),
            Err(e) => {
                eprintln!("[{backend}] scale-out failed: {e}");
                (None, Some(e.to_string()))
            }
        };
        scale_out.push(ScaleOut {
            backend,
            fleet,
            error,
        });
    }
    let mut wakeups = Vec::new();
    for &kind in &args.backends {
        // PostgreSQL's wake-ups come by `LISTEN`; item 4 asks for the other two.
        if kind != BackendKind::Postgres {
            wakeups.push(wakeups::measure(kind, args.latency).await);
        }
    }
    OrchFigures {
        drains,
        producers: args.producers,
        push_concurrent_per_s,
        push_error,
        scale_out,
        lone_claims,
        lone_claims_error,
        wakeups,
    }
}

/// A measurement as a figure/error pair, the error also shown as it happens.
fn split(result: Result<f64, BoxError>, backend: &str) -> (Option<f64>, Option<String>) {
    match result {
        Ok(v) => (Some(v), None),
        Err(e) => {
            eprintln!("[{backend}] failed: {e}");
            (None, Some(e.to_string()))
        }
    }
}

/// PostgreSQL's single-row commit limit on orch's own table: a fresh database migrated by
/// orch, then `scripts/pg-commit-limit-orch-table.sh` on it.
async fn commit_limit_on_orch_table() -> PeerFigure {
    eprintln!("[postgres] single-row commit limit on orch's table");
    let peer = Peer::PostgresCommitLimitOrchTable;
    let measured = measure::on_fresh(BackendKind::Postgres, |url| async move {
        let client = measure::builder(&url).build().await?;
        let prefix = client.store().table_prefix().to_owned();
        let database = url
            .rsplit('/')
            .next()
            .and_then(|tail| tail.split('?').next())
            .ok_or("no database name in the URL")?
            .to_owned();
        let script = Script::limit(PathBuf::from(ORCH_TABLE_COMMIT_LIMIT), &["SECONDS_TO_RUN"])
            .with_env("DATABASE", database)
            .with_env("PREFIX", prefix);
        let figure = tokio::task::spawn_blocking(move || scripts::tps(peer, &script, 1.0)).await?;
        Ok::<_, BoxError>(figure)
    })
    .await;
    measured.unwrap_or_else(|e| PeerFigure::missing(peer, e.to_string()))
}

/// Every peer in turn (blocking), for the backends measured: PostgreSQL's (River, apalis,
/// the drain and commit limits), SQLite's (River) and MariaDB's (the drain limit).
fn peer_side(
    dir: &Path,
    jobs: u64,
    workers: &[usize],
    backends: &[BackendKind],
) -> Vec<PeerFigure> {
    let [postgres, sqlite, mariadb] = [
        BackendKind::Postgres,
        BackendKind::Sqlite,
        BackendKind::MySql,
    ]
    .map(|kind| backends.contains(&kind));
    let mut out = Vec::new();
    if postgres {
        let river = Script::drain(dir.join("run-river.sh"), jobs, workers, Some("postgres"));
        out.extend(scripts::drains(
            Peer::RiverPostgres,
            &river,
            workers,
            "postgres:",
        ));
        let apalis = Script::drain(dir.join("run-apalis.sh"), jobs, workers, None);
        out.extend(scripts::drains(
            Peer::ApalisPostgres,
            &apalis,
            workers,
            "apalis",
        ));
        let limit = Script::limit(dir.join("sql-drain-limit.sh"), &["N"]);
        out.push(scripts::tps(Peer::PostgresDrainLimit, &limit, 100.0));
        let commits = Script::limit(dir.join("sql-commit-limit.sh"), &[]);
        out.push(scripts::tps(Peer::PostgresCommitLimit, &commits, 1.0));
    }
    if sqlite {
        let few: Vec<usize> = workers
            .iter()
            .copied()
            .filter(|&w| w <= SQLITE_MAX_WORKERS)
            .collect();
        let river = Script::drain(dir.join("run-river.sh"), jobs, &few, Some("sqlite"));
        out.extend(scripts::drains(Peer::RiverSqlite, &river, &few, "sqlite:"));
    }
    if mariadb {
        let settings = ["N", "CLIENTS", "SECONDS_TO_RUN"];
        let limit = Script::limit(PathBuf::from(MARIADB_LIMIT), &settings);
        out.push(scripts::jobs_per_s(Peer::MariaDbDrainLimit, &limit));
    }
    out
}
