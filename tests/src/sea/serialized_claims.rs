//! `SeaStoreConfig::serialize_claims`: engines whose claims take turns still run every
//! command exactly once, and one cut off in its turn holds the others up only briefly.

use std::time::Duration;

use orch::prelude::*;
use orch::{Orch, SeaStoreConfig};
use tokio_util::sync::CancellationToken;

use super::SeaBackend;
use crate::commands::{EchoCommand, EchoHandler};
use crate::conformance::{SOON, ledger};
use crate::proxy::Proxy;
use crate::wait::wait_until;
use crate::{BackendKind, Harness};

const COMMANDS: u64 = 3_000;

/// Three engines taking turns at claiming drain 3,000 commands: every one succeeds and
/// runs exactly once, and a command pushed afterwards still starts at once. SQLite ignores
/// the setting and drains as usual.
pub async fn engines_taking_turns_run_each_command_once(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let mut engines = Vec::new();
    for _ in 0..3 {
        let orch = h
            .backend()
            .orch_builder()
            .store_config(SeaStoreConfig::default().with_serialize_claims(true))
            .state(ledger.clone())
            .handler::<EchoCommand, _>(EchoHandler)
            .concurrency(32)
            .max_claim(50)
            .build()
            .await
            .expect("build");
        engines.push(orch);
    }
    let pusher = h.client().await;
    for chunk in (0..COMMANDS).collect::<Vec<_>>().chunks(1000) {
        pusher
            .push_many(chunk.iter().map(|&n| EchoCommand { n }))
            .await
            .expect("push");
    }
    let stop = CancellationToken::new();
    let running: Vec<_> = engines.iter().map(|orch| start(orch, &stop)).collect();
    wait_until(
        Duration::from_secs(120),
        "3,000 commands to succeed",
        || async { (h.count(CommandStatus::Succeeded).await == COMMANDS as i64).then_some(()) },
    )
    .await;
    stop.cancel();
    for run in running {
        run.await.expect("join").expect("engine");
    }
    crate::conformance::concurrency::each_ran_once(h, &ledger, COMMANDS).await;
    // A command that arrives later is still claimed at once by an engine taking turns.
    let orch = &engines[0];
    let stop = CancellationToken::new();
    let run = start(orch, &stop);
    let id = pusher
        .push(EchoCommand { n: COMMANDS })
        .await
        .expect("push");
    wait_until(SOON, "a late command to succeed", || async {
        let record = orch.get(id).await.expect("get")?;
        (record.status == CommandStatus::Succeeded).then_some(())
    })
    .await;
    stop.cancel();
    run.await.expect("join").expect("engine");
}

/// Whether a claim's turn is held by a session that has gone quiet: asked while the only
/// engine claiming is cut off, so whoever holds the turn then is stuck. On PostgreSQL: a
/// session in a transaction (idle in it, or in a query blocked on its client; not an idle
/// session holding a lock of its own) holding an advisory lock, its state unchanged for
/// 250 ms. On MySQL/MariaDB, where the turn is a
/// row of the locks table: that row is locked.
async fn turn_held_by_a_quiet_session(h: &Harness<SeaBackend>) -> bool {
    if h.backend().kind() == BackendKind::Postgres {
        let quiet = h
            .backend()
            .query_text(
                "SELECT a.pid::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND a.state <> 'idle' \
                 AND a.datname = current_database() \
                 AND a.state_change < now() - interval '250 milliseconds'",
                vec![],
            )
            .await;
        !quiet.is_empty()
    } else {
        let free = h
            .backend()
            .query_text(
                "SELECT name FROM {locks} WHERE name = 'orch.commands.claim' FOR UPDATE SKIP LOCKED",
                vec![],
            )
            .await;
        free.is_empty()
    }
}

/// Runs `orch`'s engine in a task until `stop` fires.
fn start(orch: &Orch, stop: &CancellationToken) -> tokio::task::JoinHandle<orch::Result<()>> {
    let (orch, stop) = (orch.clone(), stop.clone());
    tokio::spawn(async move { orch.run(stop).await })
}

/// An engine cut off from the database (a TCP proxy that stops forwarding but keeps its
/// connections open) while it claims in turns, small batches back to back, holds up the
/// other engines' claims briefly at most, not until its connection is found dead nor for
/// every `lock_timeout`. On PostgreSQL a claim in turn is one round trip, so no cut of 50
/// ever leaves the turn held. On MariaDB a claim's transaction waits on its client between
/// statements: a cut is retried until it catches the engine holding the turn, and the
/// server ends that quiet transaction after 5 s.
pub async fn a_claimer_cut_off_in_its_turn_stalls_the_others_briefly(h: &Harness<SeaBackend>) {
    let kind = h.backend().kind();
    let upstream = match kind {
        BackendKind::Postgres => "127.0.0.1:5432",
        BackendKind::MySql => "127.0.0.1:3306",
        BackendKind::Sqlite => return, // One writer at a time: no turns to hold.
    };
    let proxy = Proxy::start(upstream.parse().expect("address")).await;
    let ledger = ledger();
    let turns = || SeaStoreConfig::default().with_serialize_claims(true);
    let cut_off = Orch::builder()
        .database(super::partition::via(h.backend().url(), kind, proxy.port()))
        .without_link_time_handlers()
        .store_config(turns())
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .concurrency(64)
        .max_claim(8)
        .configure(|c| c.shutdown_grace = Duration::from_millis(100))
        .build()
        .await
        .expect("build the engine behind the proxy");
    let pusher = h.client().await;
    for chunk in (0..20_000).collect::<Vec<_>>().chunks(2000) {
        pusher
            .push_many(chunk.iter().map(|&n| EchoCommand { n }))
            .await
            .expect("push");
    }
    let stop_cut_off = CancellationToken::new();
    let cut_off_run = start(&cut_off, &stop_cut_off);
    wait_until(
        SOON,
        "the engine behind the proxy to be claiming",
        || async { (ledger.all_runs().len() >= 500).then_some(()) },
    )
    .await;
    // Cut, each time while the engine is claiming, until a cut catches it holding the
    // turn (on MariaDB its transaction then sits idle on the server, the turn's row
    // locked), or 50 cuts have not.
    let mut caught = false;
    for _ in 0..50 {
        let ran = ledger.all_runs().len();
        wait_until(
            SOON,
            "the engine behind the proxy to claim again",
            || async { (ledger.all_runs().len() > ran).then_some(()) },
        )
        .await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(300)).await;
        if turn_held_by_a_quiet_session(h).await {
            caught = true;
            break;
        }
        proxy.restore();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if kind == BackendKind::Postgres {
        assert!(!caught, "a cut left the turn held on PostgreSQL");
        proxy.cut();
    } else {
        assert!(caught, "no cut of 50 caught the engine holding its turn");
    }
    let cut_at = std::time::Instant::now();
    let before = h.count(CommandStatus::Succeeded).await;
    let survivor = h
        .backend()
        .orch_builder()
        .store_config(turns())
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build the survivor");
    let stop = CancellationToken::new();
    let survivor_run = start(&survivor, &stop);
    wait_until(
        Duration::from_secs(20),
        "the other engine to claim within 20 s of the cut (lock_timeout is 30 s)",
        || async { (h.count(CommandStatus::Succeeded).await >= before + 1000).then_some(()) },
    )
    .await;
    eprintln!(
        "the other engine ran 1,000 commands {:?} after the last cut",
        cut_at.elapsed()
    );
    stop.cancel();
    survivor_run.await.expect("join").expect("survivor");
    assert!(
        !turn_held_by_a_quiet_session(h).await,
        "the quiet transaction holding the turn was ended"
    );
    stop_cut_off.cancel();
    proxy.restore();
    let _ = tokio::time::timeout(Duration::from_secs(30), cut_off_run).await;
}

/// An instance key written to break out of a literal (quotes, backslashes, a placeholder's
/// `$1`, a statement of its own) is served like any other by engines taking turns: on
/// PostgreSQL the claim's values are written as literals (the arguments of its prepared
/// statement on the claims pool, the claim's own text on a store held to one connection),
/// and there they must stay values. Its command runs; one for another target is left alone;
/// the table is intact. Both ways, one after the other.
pub async fn a_hostile_instance_key_stays_a_value_in_turns(h: &Harness<SeaBackend>) {
    const KEY: &str = "it's \\' a \\\\ $1 $$ '); DROP TABLE orch_commands; -- é\u{1F600}";
    let configs = [
        SeaStoreConfig::default().with_serialize_claims(true),
        SeaStoreConfig::default()
            .with_serialize_claims(true)
            .with_max_connections(Some(1)),
    ];
    for (round, config) in (1..).zip(configs) {
        let orch = h
            .backend()
            .orch_builder()
            .store_config(config)
            .instance_key(KEY)
            .state(ledger())
            .handler::<EchoCommand, _>(EchoHandler)
            .build()
            .await
            .expect("build");
        let own = orch.push(EchoCommand { n: 1 }).await.expect("push");
        let other = orch
            .push_with(EchoCommand { n: 2 }, orch::Push::new().target("it's"))
            .await
            .expect("push elsewhere");
        let stop = CancellationToken::new();
        let run = start(&orch, &stop);
        wait_until(SOON, "the hostile key's command to succeed", || async {
            let record = orch.get(own).await.expect("get")?;
            (record.status == CommandStatus::Succeeded).then_some(record)
        })
        .await;
        stop.cancel();
        run.await.expect("join").expect("engine");
        let own = orch.get(own).await.expect("get").expect("kept");
        assert_eq!(own.target, KEY);
        let other = orch.get(other).await.expect("get").expect("kept");
        assert_eq!(
            other.status,
            CommandStatus::Pending,
            "another target's command"
        );
        assert_eq!(h.count(CommandStatus::Succeeded).await, round);
    }
}

/// Engines starting at once on a fresh database, each claiming in its turn at once: every
/// first claim succeeds. The turn's row is the schema's (migration 11), so no first turn
/// inserts it: MariaDB chose deadlock victims among first turns that each inserted the row,
/// and the victims' claims failed.
pub async fn first_turns_taken_at_once_all_succeed(h: &Harness<SeaBackend>) {
    let admin = h.backend().orch_builder().build().await.expect("migrate");
    drop(admin);
    let row = h
        .backend()
        .query_text(
            "SELECT name FROM {locks} WHERE name = 'orch.commands.claim'",
            vec![],
        )
        .await;
    assert_eq!(row.len(), 1, "the turn's row is there before any claim");
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = orch::internal::SeaStore::connect_with(
            h.backend().url(),
            SeaStoreConfig::default().with_serialize_claims(true),
        )
        .await
        .expect("a store whose claims take turns");
        stores.push(std::sync::Arc::new(store));
    }
    let claims = stores.iter().map(|store| {
        let store = store.clone();
        async move {
            use orch::internal::store::Store;
            store
                .commands()
                .claim(&super::claim_cost::params(&["echo"], &["default"], 10))
                .await
        }
    });
    for claimed in futures::future::join_all(claims).await {
        assert!(claimed.expect("a first claim in its turn").is_empty());
    }
}
