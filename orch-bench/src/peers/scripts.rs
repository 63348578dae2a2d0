//! Running the peers' scripts and reading their figures from what they print.
//!
//! Each script runs under `bash` with its stdout captured and parsed. Its stderr (cargo's
//! build output, psql notices) is shown only when it fails. A script that is missing, exits
//! non-zero or prints no figure leaves each figure it owed as missing, with the reason; the
//! other scripts still run. The peers build into their scripts' own cargo target directory,
//! whatever `CARGO_TARGET_DIR` orch-bench was built with.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::parse::{Read, read_drain, read_jobs_per_s, read_tps};

/// Who measured a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Peer {
    /// River's Rust client on PostgreSQL (`run-river.sh`).
    RiverPostgres,
    /// River's Rust client on a SQLite file (`run-river.sh`).
    RiverSqlite,
    /// apalis on PostgreSQL (`run-apalis.sh`).
    ApalisPostgres,
    /// pgbench claiming 100 rows and deleting them (`sql-drain-limit.sh`), in jobs/s.
    PostgresDrainLimit,
    /// pgbench inserting one row per transaction (`sql-commit-limit.sh`), in commits/s.
    PostgresCommitLimit,
    /// pgbench inserting one command row per transaction into orch's own table, with its
    /// indexes, over TCP (`scripts/pg-commit-limit-orch-table.sh`), in commits/s.
    PostgresCommitLimitOrchTable,
    /// The same drain cycle as a MariaDB stored procedure (`scripts/mariadb-drain-limit.sh`).
    MariaDbDrainLimit,
}

impl Peer {
    /// The name printed in the tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::RiverPostgres => "River (PostgreSQL)",
            Self::RiverSqlite => "River (SQLite)",
            Self::ApalisPostgres => "apalis (PostgreSQL)",
            Self::PostgresDrainLimit => "PostgreSQL bare-SQL drain limit",
            Self::PostgresCommitLimit => "PostgreSQL single-row commit limit",
            Self::PostgresCommitLimitOrchTable => {
                "PostgreSQL single-row commit limit on orch's table"
            }
            Self::MariaDbDrainLimit => "MariaDB bare-SQL drain limit",
        }
    }
}

/// One figure from a peer, or why it is missing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PeerFigure {
    /// Who measured it.
    pub(crate) peer: Peer,
    /// The peer's workers, for the queue libraries.
    pub(crate) workers: Option<usize>,
    /// Jobs per second (commits per second for the commit limit); `None` when missing.
    pub(crate) per_s: Option<f64>,
    /// The script and its arguments.
    pub(crate) script: String,
    /// The line the figure was read from.
    pub(crate) line: Option<String>,
    /// Why the figure is missing.
    pub(crate) error: Option<String>,
}

impl PeerFigure {
    /// `peer`'s figure, missing because of `error`.
    pub(crate) fn missing(peer: Peer, error: String) -> Self {
        Self {
            peer,
            workers: None,
            per_s: None,
            script: String::new(),
            line: None,
            error: Some(error),
        }
    }
}

/// A script to run: its path, arguments and extra environment.
pub(crate) struct Script {
    /// Absolute, or relative to the workspace root or the current directory ([`resolve`]).
    path: PathBuf,
    /// Its arguments.
    args: Vec<String>,
    /// Variables added to the environment it inherits.
    env: Vec<(&'static str, String)>,
}

/// What one script run printed, and why it failed if it did.
struct Ran {
    command: String,
    stdout: String,
    error: Option<String>,
}

impl Script {
    /// A drain script run at `workers` with `JOBS=jobs`, and `BACKENDS` when given.
    pub(crate) fn drain(
        path: PathBuf,
        jobs: u64,
        workers: &[usize],
        backends: Option<&str>,
    ) -> Self {
        Self {
            path,
            args: workers.iter().map(ToString::to_string).collect(),
            env: std::iter::once(("JOBS", jobs.to_string()))
                .chain(backends.map(|b| ("BACKENDS", b.to_owned())))
                .collect(),
        }
    }

    /// A limit script with no arguments. Those of its `settings` that are set in this
    /// process's environment are passed on explicitly, so the command recorded shows them.
    pub(crate) fn limit(path: PathBuf, settings: &[&'static str]) -> Self {
        let env = settings
            .iter()
            .filter_map(|&k| std::env::var(k).ok().map(|v| (k, v)))
            .collect();
        Self {
            path,
            args: Vec::new(),
            env,
        }
    }

    /// The same script with `key=value` added to its environment.
    pub(crate) fn with_env(mut self, key: &'static str, value: String) -> Self {
        self.env.push((key, value));
        self
    }

    /// Runs the script to its end (stdout captured; stderr shown only on failure).
    fn run(&self) -> Ran {
        let path = resolve(&self.path);
        let shown = path.as_ref().unwrap_or(&self.path);
        let env: String = self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let command = format!("{env}{} {}", shown.display(), self.args.join(" "));
        let command = command.trim_end().to_owned();
        let failed = |error: String| Ran {
            command: command.clone(),
            stdout: String::new(),
            error: Some(error),
        };
        let path = match path {
            Ok(path) if path.is_file() => path,
            Ok(path) => return failed(format!("{} is not a file", path.display())),
            Err(e) => return failed(e),
        };
        eprintln!("[peers] {command}");
        let output = Command::new("bash")
            .arg(&path)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("CARGO_TARGET_DIR")
            .output();
        let output = match output {
            Ok(output) => output,
            Err(e) => return failed(format!("could not start bash: {e}")),
        };
        let error = (!output.status.success()).then(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            eprintln!(
                "[peers] {command} failed ({}); its stderr:\n{stderr}",
                output.status
            );
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            format!("{}: {}", output.status, last.unwrap_or("no stderr"))
        });
        Ran {
            command,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            error,
        }
    }
}

/// Runs a drain script (River's or apalis's) over `workers`, and reads one figure per worker
/// count ([`read_drain`]). No workers, no run (the scripts would fall back to their own
/// worker counts).
pub(crate) fn drains(
    peer: Peer,
    script: &Script,
    workers: &[usize],
    label: &str,
) -> Vec<PeerFigure> {
    if workers.is_empty() {
        return Vec::new();
    }
    let ran = script.run();
    workers
        .iter()
        .map(|&w| figure(peer, Some(w), &ran, read_drain(&ran.stdout, label, w)))
        .collect()
}

/// Runs a pgbench script and reads its jobs per second ([`read_tps`]).
pub(crate) fn tps(peer: Peer, script: &Script, per_cycle: f64) -> PeerFigure {
    let ran = script.run();
    let found = read_tps(&ran.stdout).map(|(tps, line)| (tps * per_cycle, line));
    figure(peer, None, &ran, found)
}

/// Runs a script that prints `… = N jobs/s …` and reads N ([`read_jobs_per_s`]).
pub(crate) fn jobs_per_s(peer: Peer, script: &Script) -> PeerFigure {
    let ran = script.run();
    figure(peer, None, &ran, read_jobs_per_s(&ran.stdout))
}

/// The figure `found` in `ran`'s output or, when missing, the run's error (else why it
/// was not found).
fn figure(peer: Peer, workers: Option<usize>, ran: &Ran, found: Read<'_>) -> PeerFigure {
    let (per_s, line, error) = match (found, &ran.error) {
        (Ok((v, line)), _) => (Some(v), Some(line.trim().to_owned()), None),
        (Err(_), Some(e)) => (None, None, Some(e.clone())),
        (Err(why), None) => (None, None, Some(why.to_owned())),
    };
    PeerFigure {
        peer,
        workers,
        per_s,
        script: ran.command.clone(),
        line,
        error,
    }
}

/// `path` as given when absolute; otherwise under the workspace root (the parent of
/// orch-bench's directory at build time) when it exists there, else under the current
/// directory. `Err` names every place tried.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if path.is_absolute() {
        tried.push(path.to_path_buf());
    } else {
        if let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
            tried.push(root.join(path));
        }
        if let Ok(cwd) = std::env::current_dir() {
            tried.push(cwd.join(path));
        }
    }
    if let Some(found) = tried.iter().find(|p| p.exists()) {
        return Ok(found.canonicalize().unwrap_or_else(|_| found.clone()));
    }
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "{} not found (tried {})",
        path.display(),
        tried.join(", ")
    ))
}
