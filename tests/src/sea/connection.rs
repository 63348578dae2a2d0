//! A database that goes away mid-run: every connection of the test database is killed
//! (PostgreSQL `pg_terminate_backend`, MariaDB `KILL`) several times while an engine drains
//! commands. The pool reconnects, the engine carries on, nothing is lost, and no connection
//! is left inside an open transaction. Server backends only: an embedded SQLite database has
//! no connection to lose.

use std::time::Duration;

use orch::prelude::*;
use sea_orm::{ConnectionTrait, Database, Statement};

use super::SeaBackend;
use crate::commands::{EchoCommand, EchoHandler};
use crate::conformance::ledger;
use crate::wait::wait_until;
use crate::{BackendKind, Harness};

const COMMANDS: u64 = 2_000;

/// Kills every other connection to the test database; returns how many.
pub(crate) async fn kill_connections(h: &Harness<SeaBackend>) -> usize {
    let db = Database::connect(h.backend().url())
        .await
        .expect("admin connection");
    let backend = db.get_database_backend();
    let killed = match h.backend().kind() {
        BackendKind::Postgres => {
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                ))
                .await
                .expect("terminate");
            rows.len()
        }
        BackendKind::MySql => {
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT id FROM information_schema.processlist \
                     WHERE db = DATABASE() AND id <> CONNECTION_ID()",
                ))
                .await
                .expect("processlist");
            for row in &rows {
                let id: i64 = row
                    .try_get_by_index::<i64>(0)
                    .or_else(|_| row.try_get_by_index::<u64>(0).map(|v| v as i64))
                    .expect("id");
                let _ = db.execute_unprepared(&format!("KILL {id}")).await;
            }
            rows.len()
        }
        BackendKind::Sqlite => 0,
    };
    let _ = db.close().await;
    killed
}

/// Connections are killed three times during a drain; every command still succeeds, none
/// waits for the reaper (a claim cut during its commit is released at once).
pub async fn database_goes_away_mid_run(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .concurrency(8)
        .max_claim(10)
        // No reaper: a claim whose commit was cut must be handed back by the engine itself,
        // not found an hour later.
        .configure(|c| c.reaper_interval = Duration::from_secs(3600))
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    for chunk in (0..COMMANDS).collect::<Vec<_>>().chunks(500) {
        orch.push_many(chunk.iter().map(|&n| EchoCommand { n }))
            .await
            .expect("push");
    }
    let mut total = 0;
    for round in 1..=3u64 {
        wait_until(
            Duration::from_secs(60),
            "progress before the cut",
            || async { (ledger.all_runs().len() as u64 >= round * COMMANDS / 5).then_some(()) },
        )
        .await;
        total += kill_connections(h).await;
    }
    assert!(total > 0, "the engine's connections were cut");
    wait_until(
        Duration::from_secs(120),
        "every command to succeed after the cuts",
        || async {
            let done = h.count(CommandStatus::Succeeded).await;
            (done == COMMANDS as i64).then_some(())
        },
    )
    .await;
    running.stop().await;
    let runs = ledger.all_runs();
    assert_eq!(runs.len(), COMMANDS as usize, "none lost");
    assert_eq!(h.count(CommandStatus::Pending).await, 0);
    assert_eq!(h.count(CommandStatus::Running).await, 0);
    if h.backend().kind() == BackendKind::Postgres {
        let db = Database::connect(h.backend().url()).await.expect("connect");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
            ))
            .await
            .expect("activity")
            .expect("row");
        assert_eq!(row.try_get_by_index::<i64>(0).expect("count"), 0);
        let _ = db.close().await;
    }
}

/// Pooled connections are checked before they are handed out: after the server killed
/// every connection of an engine at rest (a restart, a proxy's idle limit), the
/// application's next push and read succeed at the first try, on a fresh connection. (The
/// claims pool checks only connections idle for a second: a claim meeting a dead one fails
/// and is retried at once, see `database_goes_away_mid_run`.)
pub async fn idle_connections_killed_cost_no_push(h: &Harness<SeaBackend>) {
    let orch = h
        .builder()
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    // Several connections in the pool, all idle afterwards.
    let pushes = (0..8u64).map(|n| orch.push(EchoCommand { n }));
    for pushed in futures::future::join_all(pushes).await {
        pushed.expect("push before the cut");
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        kill_connections(h).await > 0,
        "the pool's connections were cut"
    );
    for n in 100..108u64 {
        let id = orch
            .push(EchoCommand { n })
            .await
            .expect("a push after the cut succeeds at once");
        orch.get(id)
            .await
            .expect("a read after the cut succeeds at once")
            .expect("the command pushed");
    }
}
