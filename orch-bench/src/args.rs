//! Command-line arguments.

use orch_tests::BackendKind;

/// What to measure, and how big.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) backends: Vec<BackendKind>,
    pub(crate) drain: u64,
    pub(crate) workers: usize,
    pub(crate) claim: u32,
    pub(crate) push: u64,
    pub(crate) producers: usize,
    pub(crate) latency: u64,
    pub(crate) million: bool,
    pub(crate) blob_kib: usize,
    pub(crate) json: String,
    /// Outbox publishers to measure (`--outbox memory,nats,rabbitmq`); none skips it.
    pub(crate) outbox: Vec<String>,
    /// Messages relayed per outbox throughput run.
    pub(crate) outbox_messages: u64,
    /// Commit → ack latency probes per outbox run.
    pub(crate) outbox_probes: u64,
    /// Only the outbox figures (`--outbox-only`).
    pub(crate) outbox_only: bool,
    /// Pending rows no engine serves to claim beside (`--unserved N`); 0 skips that mode,
    /// any other number runs only it.
    pub(crate) unserved: u64,
    /// Served commands drained and claimed beside them (`--served`).
    pub(crate) served: u64,
}

impl Args {
    pub(crate) fn parse() -> Result<Self, String> {
        let mut args = Self {
            backends: vec![
                BackendKind::Sqlite,
                BackendKind::Postgres,
                BackendKind::MySql,
            ],
            drain: 50_000,
            workers: 1000,
            claim: 500,
            push: 5_000,
            producers: 8,
            latency: 200,
            million: false,
            blob_kib: 64,
            json: "bench-results/orch-bench.json".into(),
            outbox: Vec::new(),
            outbox_messages: 20_000,
            outbox_probes: 200,
            outbox_only: false,
            unserved: 0,
            served: 2_000,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--backends" => {
                    args.backends = value()?
                        .split(',')
                        .map(|b| match b {
                            "sqlite" => Ok(BackendKind::Sqlite),
                            "postgres" => Ok(BackendKind::Postgres),
                            "mysql" | "mariadb" => Ok(BackendKind::MySql),
                            other => Err(format!("unknown backend {other:?}")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--drain" => args.drain = number(&value()?)?,
                "--workers" => args.workers = number(&value()?)?,
                "--claim" => args.claim = number(&value()?)?,
                "--push" => args.push = number(&value()?)?,
                "--producers" => args.producers = number(&value()?)?,
                "--latency" => args.latency = number(&value()?)?,
                "--million" => args.million = true,
                "--blob-kib" => args.blob_kib = number(&value()?)?,
                "--json" => args.json = value()?,
                "--outbox" => {
                    args.outbox = value()?.split(',').map(str::to_owned).collect();
                }
                "--outbox-messages" => args.outbox_messages = number(&value()?)?,
                "--outbox-probes" => args.outbox_probes = number(&value()?)?,
                "--outbox-only" => args.outbox_only = true,
                "--unserved" => args.unserved = number(&value()?)?,
                "--served" => args.served = number(&value()?)?,
                other => return Err(format!("unknown flag {other:?}; see the crate docs")),
            }
        }
        Ok(args)
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s:?}"))
}
