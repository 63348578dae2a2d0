//! Claims cost what they take: rows no engine serves (unknown names, other targets) are
//! never read by a claim, and on MySQL/MariaDB an open claim locks only what it took.
//! Proved by what the database reports it read, never by timing.

use std::time::Duration;

use orch::internal::store::{ClaimParams, Store};
use orch::internal::{LeaseToken, SeaStore};
use orch::prelude::*;
use orch::{Push, SeaStoreConfig, WorkerId};
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use super::SeaBackend;
use crate::Harness;
use crate::backends::BackendKind;
use crate::commands::{EchoCommand, WhoRuns};

/// Pending rows of a name nobody serves, and as many of a served name for a target
/// nobody serves: each many times what a claim takes.
const UNSERVED: u32 = 3_000;
/// What one claim takes.
const LIMIT: u32 = 10;

pub(super) fn params(names: &[&str], targets: &[&str], limit: u32) -> ClaimParams {
    ClaimParams {
        worker: WorkerId::new(),
        token: LeaseToken::new(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        limit,
        lease_ttl: Duration::from_secs(30),
        lease_buffer: Duration::from_secs(10),
    }
}

/// Inserts `n` pending rows of `name` for `target`, due long ago (older than every pushed
/// row, so a claim walking all pending rows in due order meets them first), in one
/// statement.
pub(super) async fn insert_pending(h: &Harness<SeaBackend>, name: &str, target: &str, n: u32) {
    insert_pending_due(h, name, target, n, (0, 1)).await;
}

/// Inserts `n` pending rows of `name` for `target` as [`insert_pending`] does, the k-th
/// (from 1) due at `first + k * step` microseconds, with `(first, step)` = `due`.
pub(super) async fn insert_pending_due(
    h: &Harness<SeaBackend>,
    name: &str,
    target: &str,
    n: u32,
    (first, step): (i64, i64),
) {
    let id = match h.backend().kind() {
        BackendKind::Postgres => "gen_random_uuid()",
        BackendKind::MySql => "UNHEX(REPLACE(UUID(), '-', ''))",
        BackendKind::Sqlite => "randomblob(16)",
    };
    let inserted = h
        .backend()
        .exec(
            &format!(
                "INSERT INTO {{commands}} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at) \
                 WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 9), \
                 g(n) AS (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 1 FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d e) \
                 SELECT {id}, {{p1}}, {{p2}}, 'pending', '{{}}', 0, 1, 60000, {first} + n * {step}, n FROM g WHERE n <= {n}"
            ),
            vec![name.into(), target.into()],
        )
        .await;
    assert_eq!(inserted, u64::from(n), "bulk insert of {name}@{target}");
}

/// The ids a claim with `names` and `target` should take next: the `limit` oldest due.
pub(super) async fn oldest(
    store: &SeaStore,
    names: &[&str],
    target: &str,
    limit: u32,
) -> Vec<Uuid> {
    let db = store.connection();
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let sql = format!(
        "SELECT id FROM {} WHERE status = 'pending' AND target = '{target}' AND name IN ({}) ORDER BY run_at, id LIMIT {limit}",
        store.commands_table(),
        quoted.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read the oldest ids");
    let mut ids: Vec<Uuid> = rows
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).expect("id"))
        .collect();
    ids.sort();
    ids
}

/// What a claim read, as the database tells it, or `None` where it only shows a plan
/// (SQLite: whose shape this checks instead).
async fn rows_read(store: &SeaStore, kind: BackendKind, params: &ClaimParams) -> Option<u64> {
    match kind {
        BackendKind::Postgres => {
            let plan = store
                .explain_claim(params)
                .await
                .expect("explain the claim")
                .expect("a plan");
            let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON plan");
            let table = store.commands_table().trim_matches('"');
            Some(rows_of(&plan[0]["Plan"], table))
        }
        BackendKind::Sqlite => {
            let plan = store
                .explain_claim(params)
                .await
                .expect("explain the claim")
                .expect("a plan");
            let table = store.commands_table().trim_matches('"');
            let reads: Vec<&str> = plan
                .lines()
                .filter(|l| l.contains(&format!(" {table} ")) || l.ends_with(table))
                .collect();
            assert!(
                reads.iter().all(|l| l.contains("SEARCH")),
                "a claim scans no table:\n{plan}"
            );
            // Apart from the update's own primary-key lookup, every read of the table is
            // an index search on name and target.
            let due: Vec<&&str> = reads.iter().filter(|l| !l.contains("(id=?)")).collect();
            assert!(!due.is_empty(), "{plan}");
            assert!(
                due.iter().all(|l| l.contains("name=? AND target=?")),
                "every due-row search seeks name and target:\n{plan}"
            );
            None
        }
        BackendKind::MySql => {
            // The store has one connection, so session counters are the claim's own.
            let before = handler_reads(store).await;
            store.commands().claim(params).await.expect("claim");
            Some(handler_reads(store).await - before)
        }
    }
}

/// Rows produced or filtered out by every node of a PostgreSQL plan reading `table`.
pub(super) fn rows_of(node: &serde_json::Value, table: &str) -> u64 {
    let own = if node["Relation Name"].as_str() == Some(table) {
        let n = |key: &str| node[key].as_f64().unwrap_or(0.0);
        let per_loop =
            n("Actual Rows") + n("Rows Removed by Filter") + n("Rows Removed by Index Recheck");
        (per_loop * n("Actual Loops").max(1.0)) as u64
    } else {
        0
    };
    own + node["Plans"]
        .as_array()
        .map_or(0, |plans| plans.iter().map(|p| rows_of(p, table)).sum())
}

/// The session's `Handler_read%` counters, summed: every index and table row read.
pub(super) async fn handler_reads(store: &SeaStore) -> u64 {
    let db = store.connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SHOW SESSION STATUS LIKE 'Handler_read%'".to_owned(),
        ))
        .await
        .expect("handler counters");
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<String>(1)
                .expect("counter")
                .parse::<u64>()
                .expect("a number")
        })
        .sum()
}

/// A claim reads the same number of rows beside thousands of pending rows of an unserved
/// name and of an unserved target as without them, and takes the oldest due rows of the
/// names and target it serves (two names: the pairs are merged in due order).
pub async fn claims_read_no_unserved_rows(h: &Harness<SeaBackend>) {
    let kind = h.backend().kind();
    let client = h.backend().orch_builder().build().await.expect("client");
    for n in 0..20 {
        client.push(EchoCommand { n }).await.expect("push echo");
        client
            .push(WhoRuns {
                key: format!("k{n}"),
            })
            .await
            .expect("push who_runs");
    }
    let config = SeaStoreConfig::default().with_max_connections(Some(1));
    let store = SeaStore::connect_with(h.backend().url(), config)
        .await
        .expect("a one-connection store");
    let served = ["echo", "who_runs"];
    let alone = rows_read(&store, kind, &params(&served, &["default"], LIMIT)).await;
    insert_pending(h, "unserved", "default", UNSERVED).await;
    insert_pending(h, "echo", "elsewhere", UNSERVED).await;
    let beside = rows_read(&store, kind, &params(&served, &["default"], LIMIT)).await;
    if let (Some(alone), Some(beside)) = (alone, beside) {
        // Equal in principle; the slack covers planner noise, far below the 6,000 rows
        // a claim that walked them would read.
        assert!(
            beside <= alone + u64::from(LIMIT),
            "a claim read {beside} rows beside {} unserved ones, {alone} without them",
            2 * UNSERVED
        );
    }
    let expected = oldest(&store, &served, "default", LIMIT).await;
    let claimed = store
        .commands()
        .claim(&params(&served, &["default"], LIMIT))
        .await
        .expect("claim");
    let mut got: Vec<Uuid> = claimed.iter().map(|c| c.id.as_uuid()).collect();
    got.sort();
    assert_eq!(got, expected, "the oldest due rows of the served names");
    assert!(claimed.iter().all(|c| served.contains(&c.name.as_str())));
}

/// Due rows of the big-table check: tens of thousands, as a queue that keeps what it ran
/// or holds a backlog has.
const ANALYZED_ROWS: u32 = 40_000;
/// What one claim takes in the big-table check: a whole batch.
const BATCH: u32 = 500;

/// A claim of a whole batch from an analyzed table of tens of thousands of due rows reads
/// about what it takes, not the table, and takes the oldest. With true statistics the
/// planner prices a hash join over a scan of every row below a batch of lookups by row
/// address, so a claim left to it would read the whole table each time; the claim's
/// settings rule that out. (PostgreSQL reports what the claim read; SQLite shows its plan,
/// every read an index search; MySQL/MariaDB claim by primary key, see `mysql.rs`.)
pub async fn claims_read_no_whole_table_once_analyzed(h: &Harness<SeaBackend>) {
    let kind = h.backend().kind();
    for _ in 0..ANALYZED_ROWS / 10_000 {
        insert_pending(h, "echo", "default", 10_000).await;
    }
    match kind {
        BackendKind::Postgres => {
            h.backend().exec("ANALYZE {commands}", vec![]).await;
        }
        BackendKind::Sqlite => {
            h.backend().exec("ANALYZE", vec![]).await;
        }
        BackendKind::MySql => {}
    }
    let config = SeaStoreConfig::default().with_max_connections(Some(1));
    let store = SeaStore::connect_with(h.backend().url(), config)
        .await
        .expect("a one-connection store");
    let batch = params(&["echo"], &["default"], BATCH);
    if kind != BackendKind::MySql {
        let read = rows_read(&store, kind, &batch).await;
        if let Some(read) = read {
            // Each taken row is met about three times (the index walk, its lock, its
            // update); a claim that scanned the table would read all of it on top.
            assert!(
                read <= 4 * u64::from(BATCH),
                "a claim of {BATCH} read {read} rows of a table of {ANALYZED_ROWS}"
            );
        }
    }
    let expected = oldest(&store, &["echo"], "default", BATCH).await;
    let claimed = store.commands().claim(&batch).await.expect("claim");
    let mut got: Vec<Uuid> = claimed.iter().map(|c| c.id.as_uuid()).collect();
    got.sort();
    assert_eq!(got, expected, "the oldest due rows");
}

/// An open claim for one target neither hides another target's rows from a second claim
/// nor blocks a push (MySQL/MariaDB: no gap locks, no locks on rows it did not take),
/// and a second claim of its own target skips what it holds and takes what came after.
pub async fn open_claim_blocks_no_push_nor_other_target(h: &Harness<SeaBackend>) {
    // Pushes wait at most a second for a lock: a blocked push fails instead of waiting.
    let config = SeaStoreConfig::default().with_lock_timeout(Some(Duration::from_secs(1)));
    let client = h
        .backend()
        .orch_builder()
        .store_config(config)
        .build()
        .await
        .expect("client");
    // Target b's rows first: a claim of target a walking pending rows in due order meets
    // them before its own.
    for (target, count) in [("b", 5), ("a", 5)] {
        for n in 0..count {
            client
                .push_with(EchoCommand { n }, Push::new().target(target))
                .await
                .expect("push");
        }
    }
    let store = SeaStore::connect(h.backend().url()).await.expect("store");
    let (held, took_a) = store
        .claim_uncommitted(&params(&["echo"], &["a"], LIMIT))
        .await
        .expect("an open claim of target a");
    assert_eq!(took_a.len(), 5);

    let took_b = store
        .commands()
        .claim(&params(&["echo"], &["b"], LIMIT))
        .await
        .expect("a claim of target b beside it");
    assert_eq!(
        took_b.len(),
        5,
        "target b's rows are not held by target a's claim"
    );

    let pushed = client
        .push_with(EchoCommand { n: 99 }, Push::new().target("a"))
        .await
        .expect("a push beside an open claim is not blocked");
    let again = store
        .commands()
        .claim(&params(&["echo"], &["a"], LIMIT))
        .await
        .expect("a second claim of target a");
    let ids: Vec<CommandId> = again.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        vec![pushed],
        "only the row pushed after the open claim"
    );
    held.rollback().await.expect("roll the open claim back");
}
