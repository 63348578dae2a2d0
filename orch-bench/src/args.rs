//! Command-line arguments (`orch-bench --help` lists them).

use std::path::PathBuf;

use clap::Parser;
use orch_tests::BackendKind;

/// orch-bench: throughput and latency figures per backend (a program that prints numbers,
/// never a test). Server URLs come from `ORCH_TEST_POSTGRES_URL` and `ORCH_TEST_MYSQL_URL`;
/// a fresh database is created and dropped on each server.
#[derive(Debug, Clone, Parser)]
#[command(name = "orch-bench", version)]
pub(crate) struct Args {
    /// Backends to measure, comma-separated: sqlite, postgres, mysql (or mariadb).
    #[arg(long, value_delimiter = ',', value_parser = backend, default_value = "sqlite,postgres,mysql")]
    pub(crate) backends: Vec<BackendKind>,
    /// Commands drained per backend.
    #[arg(long, default_value_t = 50_000)]
    pub(crate) drain: u64,
    /// The draining engine's concurrency.
    #[arg(long, default_value_t = 1000)]
    pub(crate) workers: usize,
    /// Most commands claimed per round trip.
    #[arg(long, default_value_t = 500)]
    pub(crate) claim: u32,
    /// The drains' engines delete what succeeds (`SeaStoreConfig::delete_succeeded`)
    /// instead of keeping it. `--peers` measures PostgreSQL both ways whatever this says.
    #[arg(long)]
    pub(crate) delete_succeeded: bool,
    /// The engines of `--processes` take turns at claiming on PostgreSQL and MySQL/MariaDB
    /// (`SeaStoreConfig::serialize_claims`). `--peers` measures its scale-out
    /// with turns whatever this says.
    #[arg(long)]
    pub(crate) serialize_claims: bool,
    /// Commands pushed one by one, and by the producers.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) push: u64,
    /// Concurrent producers of single pushes.
    #[arg(long, default_value_t = 8)]
    pub(crate) producers: usize,
    /// Push-to-start latency probes.
    #[arg(long, default_value_t = 200)]
    pub(crate) latency: u64,
    /// Also push and drain a million commands, sampling the process's memory.
    #[arg(long)]
    pub(crate) million: bool,
    /// Payload size of the large-push check, in KiB.
    #[arg(long, default_value_t = 64)]
    pub(crate) blob_kib: usize,
    /// Where the JSON results are written.
    #[arg(long, default_value = "bench-results/orch-bench.json")]
    pub(crate) json: String,
    /// Outbox publishers to measure, comma-separated: memory, nats, rabbitmq; none skips it.
    #[arg(long, value_delimiter = ',')]
    pub(crate) outbox: Vec<String>,
    /// Messages relayed per outbox throughput run.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) outbox_messages: u64,
    /// Commit → ack latency probes per outbox run.
    #[arg(long, default_value_t = 200)]
    pub(crate) outbox_probes: u64,
    /// Only the outbox figures.
    #[arg(long)]
    pub(crate) outbox_only: bool,
    /// Pending rows no engine serves to claim beside; 0 skips that mode, any other number
    /// runs only it.
    #[arg(long, default_value_t = 0)]
    pub(crate) unserved: u64,
    /// Served commands drained and claimed beside the unserved rows.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) served: u64,
    /// Runs only the single pushes of `--producers` concurrent tasks (`--push` of them in
    /// all) on each backend of `--backends`, this many times each, printing pushes/s per
    /// run. 0 skips it.
    #[arg(long, default_value_t = 0)]
    pub(crate) pushes_only: u32,
    /// Runs only the idle cost: an engine with nothing to do runs this many seconds on each
    /// backend of `--backends`, and its process CPU and the server's statements per second
    /// are printed. 0 skips it.
    #[arg(long, default_value_t = 0)]
    pub(crate) idle: u64,
    /// Runs only the scale-out comparison on the server backends of `--backends`: the
    /// `--drain` backlog drained by one engine process and by this many at once against
    /// one database (each with `--workers` and `--claim`), in the order one, N, N, one,
    /// each drain on a fresh database; prints the means, each drain and the per-process
    /// split. 0 skips it.
    #[arg(long, default_value_t = 0)]
    pub(crate) processes: usize,
    /// Internal: runs one drain engine of the scale-out comparison on this URL, driven
    /// through stdin and stdout by the parent `orch-bench --processes`.
    #[arg(long, hide = true)]
    pub(crate) drain_worker: Option<String>,
    /// Internal: runs the idle engine of `--peers`' cross-process wake-ups on this URL,
    /// driven through stdin and stdout by the parent.
    #[arg(long, hide = true)]
    pub(crate) wake_worker: Option<String>,
    /// Runs only the peers comparison: orch's drains at several configurations and its
    /// single pushes, beside River, apalis and the bare-SQL limits measured in the same run,
    /// with each of the targets as a ratio.
    #[arg(long)]
    pub(crate) peers: bool,
    /// The peers' scripts directory; a relative path is taken from the workspace root, else
    /// from the current directory.
    #[arg(long, default_value = "../shared/peer-bench")]
    pub(crate) peer_bench: PathBuf,
    /// Jobs each peer drains (their `JOBS`). Defaults to `--drain`.
    #[arg(long)]
    pub(crate) peer_jobs: Option<u64>,
    /// Worker counts the peers drain with, comma-separated (River on SQLite: those up to
    /// 1000).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    pub(crate) peer_workers: Vec<usize>,
}

fn backend(name: &str) -> Result<BackendKind, String> {
    match name {
        "sqlite" => Ok(BackendKind::Sqlite),
        "postgres" => Ok(BackendKind::Postgres),
        "mysql" | "mariadb" => Ok(BackendKind::MySql),
        other => Err(format!("unknown backend {other:?}")),
    }
}
