//! The soak's driver: a fresh database, the engines, the chaos, the wait, the audit.

use std::time::Duration;

use orch::WorkerId;
use orch::internal::SeaStore;
use sea_orm::{ConnectionTrait, Statement};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::audit::{Audit, Evidence};
use super::config::SoakConfig;
use super::cutter::{ConnectionCutter, CutStats};
use super::execution_log::ExecutionLog;
use super::feeder::push_commands;
use super::fleet::Fleet;
use super::recovery::Recovery;
use super::report::Report;
use crate::backends::FreshDatabase;
use crate::sea::SeaBackend;
use crate::{Harness, Node, SuiteBackend};

/// How long reading the leader before a kill may take (its connection may be cut).
const LEADER_READ_LIMIT: Duration = Duration::from_secs(1);

/// Runs one soak on a fresh database `orch_soak_<uuid>` of `config.server_url`, dropped
/// afterwards unless `config.keep_database`.
///
/// # Errors
/// The database could not be made, an engine could not be started, or the evidence
/// could not be read. A soak that ran but found problems is `Ok`: see
/// [`Report::problems`].
pub async fn run(config: &SoakConfig) -> Result<Report, Box<dyn std::error::Error>> {
    let name = format!("orch_soak_{}", Uuid::new_v4().simple());
    let database = FreshDatabase::create_on(&config.server_url, &name).await?;
    let report = soak(config, &database.url, &name).await;
    if !config.keep_database {
        database.drop_database().await;
    }
    report
}

async fn soak(
    config: &SoakConfig,
    url: &str,
    name: &str,
) -> Result<Report, Box<dyn std::error::Error>> {
    let harness = Harness::new(SeaBackend::attach(url, ""));
    let client = harness.builder().build().await?;
    let store = SeaStore::connect(url).await?;
    let log = ExecutionLog::open(url, "driver").await?;
    log.create().await?;
    let cutter = ConnectionCutter::connect(&config.server_url, name).await?;
    let mut fleet = Fleet::start(
        config.engine_bin.clone(),
        url,
        &config.engine,
        config.engines,
    )?;

    let chaos = CancellationToken::new();
    let started = Instant::now();
    let give_up = started + config.deadline;
    let drive = async {
        let feed = push_commands(&client, config, give_up).await;
        let completed = all_succeeded(&store, config.commands, give_up).await;
        let seconds = started.elapsed().as_secs_f64();
        chaos.cancel();
        (feed, completed, seconds)
    };
    let kills = fleet.run_kills(config.kill_every, || leader(&client), chaos.clone());
    let cuts = async {
        match config.cut_every {
            Some(every) => cutter.run(every, chaos.clone()).await,
            None => CutStats::default(),
        }
    };
    let ((feed, completed, seconds), (), cuts) = tokio::join!(drive, kills, cuts);
    let engines = fleet.stop().await;
    let kills = &engines.kills;
    cutter.close().await;

    let evidence = Evidence::gather(&store, &log, &client).await?;
    let audit = Audit::of(&evidence, &feed, kills);
    let recovery = Recovery::of(&evidence, kills, &config.engine.timings);
    log.close().await;
    let _ = store.connection().clone().close().await;
    Ok(Report {
        backend: harness.backend().name().to_owned(),
        database: name.to_owned(),
        commands: config.commands,
        engines: config.engines,
        kill_every_ms: millis(config.kill_every),
        cut_every_ms: config.cut_every.map(millis),
        timings_ms: (&config.engine.timings).into(),
        completed,
        seconds,
        sigkills: kills.len() as u64,
        leader_kills: kills.iter().filter(|k| k.was_leader == Some(true)).count() as u64,
        cuts,
        push_retries: feed.retries,
        unexpected_exits: engines.unexpected_exits.clone(),
        start_failures: engines.start_failures.clone(),
        audit,
        recovery,
    })
}

/// Waits until `commands` commands have succeeded, or `give_up`; reads that fail (a cut
/// connection) are tried again.
async fn all_succeeded(store: &SeaStore, commands: u64, give_up: Instant) -> bool {
    let db = store.connection();
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE status = 'succeeded'",
        store.commands_table()
    );
    while Instant::now() < give_up {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                sql.clone(),
            ))
            .await;
        let done = row
            .ok()
            .flatten()
            .and_then(|r| r.try_get_by_index::<i64>(0).ok());
        if done.is_some_and(|n| u64::try_from(n).unwrap_or(0) >= commands) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// The current leader's worker id, if it can be read quickly.
async fn leader<Tx: ?Sized + Send + Sync + 'static>(client: &Node<Tx>) -> Option<WorkerId> {
    tokio::time::timeout(LEADER_READ_LIMIT, client.leader())
        .await
        .ok()?
        .ok()?
        .map(|info| info.worker)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
