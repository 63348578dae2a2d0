//! Claims beside rows no engine serves (`--unserved N`): the drain of `--served` commands
//! and the time of one claim of up to `--claim` of them, alone and beside `N` pending rows
//! of a name nobody serves, beside `N` of a target nobody serves, and beside an idle
//! engine of another target polling every 50 ms. Each case prints its ratio to "alone".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orch::internal::LeaseToken;
use orch::internal::store::{ClaimParams, Store};
use orch::prelude::*;
use orch::{Orch, WorkerId};
use orch_tests::BackendKind;
use orch_tests::backends::FreshDatabase;
use sea_orm::ConnectionTrait;

use crate::args::Args;
use crate::measure::builder;
use crate::workload::{Noop, NoopHandler};

type BoxError = Box<dyn std::error::Error>;

/// Claims timed per case: rounds over the whole served backlog.
const CLAIM_ROUNDS: usize = 5;

/// The figures of one case.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) label: &'static str,
    /// Seconds to drain the served commands.
    pub(crate) drain_s: f64,
    /// Median milliseconds per claim.
    pub(crate) claim_ms: f64,
}

/// Every case on one backend.
#[derive(Debug, Clone)]
pub(crate) struct BackendCases {
    pub(crate) backend: &'static str,
    pub(crate) served: u64,
    pub(crate) unserved: u64,
    pub(crate) cases: Vec<Case>,
}

/// Commands the counting handler ran.
#[derive(Default)]
struct Ran(AtomicU64);

/// Runs [`Noop`] and counts it, so a drain is timed without querying the table.
#[derive(Default)]
struct CountingHandler;

impl Handler<Noop> for CountingHandler {
    async fn run(&self, _cmd: Noop, ctx: &Ctx) -> Result<(), HandlerError> {
        ctx.state::<Arc<Ran>>()?.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub(crate) async fn run(args: &Args) -> Result<Vec<BackendCases>, BoxError> {
    let mut out = Vec::new();
    for kind in &args.backends {
        let db = FreshDatabase::create(*kind).await;
        let result = backend(*kind, &db.url, args).await;
        db.drop_database().await;
        out.push(result?);
    }
    Ok(out)
}

async fn backend(kind: BackendKind, url: &str, args: &Args) -> Result<BackendCases, BoxError> {
    let name = crate::name(kind);
    let client = builder(url).build().await?;
    let mut cases = Vec::new();
    for label in [
        "alone",
        "beside an unserved name",
        "beside an unserved target",
        "beside an idle engine of another target",
    ] {
        exec(&client, "DELETE FROM {t}").await?;
        let mut other = None;
        match label {
            "beside an unserved name" => {
                insert_pending(&client, kind, "bench.unserved", "default", args.unserved).await?;
            }
            "beside an unserved target" => {
                insert_pending(&client, kind, "bench.noop", "elsewhere", args.unserved).await?;
            }
            "beside an idle engine of another target" => {
                let engine = builder(url)
                    .instance_key("elsewhere")
                    .poll_interval(Duration::from_millis(50))
                    .handler::<Noop, _>(NoopHandler)
                    .build()
                    .await?;
                let stop = CancellationToken::new();
                let task = tokio::spawn({
                    let stop = stop.clone();
                    async move { engine.run(stop).await }
                });
                other = Some((stop, task));
            }
            _ => {}
        }
        eprintln!("[{name}] claims {label}");
        let claim_ms = claim_ms(&client, args).await?;
        eprintln!("[{name}] drain {label}");
        let drain_s = drain_s(url, &client, args).await?;
        if let Some((stop, task)) = other {
            stop.cancel();
            task.await??;
        }
        cases.push(Case {
            label,
            drain_s,
            claim_ms,
        });
    }
    Ok(BackendCases {
        backend: name,
        served: args.served,
        unserved: args.unserved,
        cases,
    })
}

/// Runs `template` with `{t}` naming the commands table.
async fn exec(client: &Orch, template: &str) -> Result<u64, BoxError> {
    let sql = template.replace("{t}", client.store().commands_table());
    Ok(client
        .store()
        .connection()
        .execute_unprepared(&sql)
        .await?
        .rows_affected())
}

/// `n` pending rows of `name` for `target`, due before any served one, in one statement.
async fn insert_pending(
    client: &Orch,
    kind: BackendKind,
    name: &str,
    target: &str,
    n: u64,
) -> Result<(), BoxError> {
    let id = match kind {
        BackendKind::Postgres => "gen_random_uuid()",
        BackendKind::MySql => "UNHEX(REPLACE(UUID(), '-', ''))",
        BackendKind::Sqlite => "randomblob(16)",
    };
    // Numbers 1..=n from as many copies of ten digits as n needs (no recursion limits).
    let places = n.max(1).to_string().len();
    let digits: Vec<String> = (0..places).map(|p| format!("d d{p}")).collect();
    let mut number = Vec::new();
    let mut scale = 1_u64;
    for p in 0..places {
        number.push(format!("d{p}.n * {scale}"));
        scale *= 10;
    }
    let sql = format!(
        "INSERT INTO {{t}} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at) \
         WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 9), \
         g(n) AS (SELECT {} + 1 FROM {}) \
         SELECT {id}, '{name}', '{target}', 'pending', '{{\"n\":0}}', 0, 1, 60000, n, n FROM g WHERE n <= {n}",
        number.join(" + "),
        digits.join(" CROSS JOIN ")
    );
    let inserted = exec(client, &sql).await?;
    if inserted != n {
        return Err(format!("inserted {inserted} of {n} rows").into());
    }
    Ok(())
}

async fn fill(client: &Orch, n: u64) -> Result<(), BoxError> {
    let mut next = 0;
    while next < n {
        let end = (next + 1000).min(n);
        client.push_many((next..end).map(|n| Noop { n })).await?;
        next = end;
    }
    Ok(())
}

/// The median time of one claim of up to `--claim` served commands, over
/// [`CLAIM_ROUNDS`] rounds that each claim the whole served backlog (put back between
/// rounds).
async fn claim_ms(client: &Orch, args: &Args) -> Result<f64, BoxError> {
    fill(client, args.served).await?;
    let store = client.store();
    let mut samples = Vec::new();
    for _ in 0..CLAIM_ROUNDS {
        loop {
            let params = ClaimParams {
                worker: WorkerId::new(),
                token: LeaseToken::new(),
                names: vec!["bench.noop".into()],
                targets: vec!["default".into()],
                limit: args.claim,
                lease_ttl: Duration::from_secs(300),
                lease_buffer: Duration::from_secs(10),
            };
            let started = Instant::now();
            let got = store.commands().claim(&params).await?.len();
            if got == 0 {
                break;
            }
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        exec(
            client,
            "UPDATE {t} SET status = 'pending', attempts = 0, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE status = 'running'",
        )
        .await?;
    }
    exec(
        client,
        "DELETE FROM {t} WHERE name = 'bench.noop' AND target = 'default'",
    )
    .await?;
    samples.sort_by(f64::total_cmp);
    Ok(samples.get(samples.len() / 2).copied().unwrap_or(0.0))
}

/// Seconds for an engine to run `--served` pre-filled commands (counted by the handler).
async fn drain_s(url: &str, client: &Orch, args: &Args) -> Result<f64, BoxError> {
    fill(client, args.served).await?;
    let ran = Arc::new(Ran::default());
    let engine = builder(url)
        .handler::<Noop, _>(CountingHandler)
        .state(ran.clone())
        .concurrency(args.workers)
        .max_claim(args.claim)
        .build()
        .await?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move { engine.run(stop).await }
    });
    while ran.0.load(Ordering::Relaxed) < args.served {
        if started.elapsed() > Duration::from_secs(600) {
            return Err("drain did not finish within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    task.await??;
    exec(
        client,
        "DELETE FROM {t} WHERE name = 'bench.noop' AND target = 'default'",
    )
    .await?;
    Ok(seconds)
}
