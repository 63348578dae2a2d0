//! Finishes, lease renewals and cancels find their rows by primary key, whatever the
//! table's statistics say. Proved by what the database reports it read, never by timing.

use std::time::Duration;

use orch::SeaStoreConfig;
use orch::internal::store::{
    CancelParams, ClaimedCommand, Finish, FinishOutcome, LeaseRenewal, Store,
};
use orch::internal::{LeaseToken, SeaStore};
use orch::prelude::*;

use super::SeaBackend;
use super::claim_cost::{handler_reads, insert_pending, oldest, params, rows_of};
use crate::Harness;
use crate::backend::SuiteBackend;
use crate::backends::BackendKind;

/// Pending rows when the table is analyzed: a backlog just pushed.
const BACKLOG: u32 = 20_000;
/// Rows claimed after the analysis, in claims of [`CLAIM`]: what a busy engine runs.
const RUNNING: u32 = 5_000;
/// Rows per claim.
const CLAIM: u32 = 500;
/// Rows one finish records.
const FINISHED: usize = 100;

/// A table analyzed while every row was pending (a backlog pushed, then `ANALYZE` by hand
/// or by PostgreSQL's autovacuum before any engine claimed) holds no `running` row in its
/// statistics. Thousands of rows are then claimed, and a finish of 100 of them reads those
/// 100 rows, not every running one. On PostgreSQL the planner, told the lease index (partial
/// on `running`) held one row, drove the finish from it and probed the batch once per
/// running row: a drain of 1,000 workers fell from ~35,000 to ~2,200 commands/s, each
/// finish taking over a second. A lease renewal and a cancel by id are then checked to
/// apply (they find their rows the same way).
pub async fn finishes_read_their_rows_alone_once_analyzed(h: &Harness<SeaBackend>) {
    let kind = h.backend().kind();
    for _ in 0..BACKLOG / 10_000 {
        insert_pending(h, "echo", "default", 10_000).await;
    }
    match kind {
        BackendKind::Postgres => h.backend().exec("ANALYZE {commands}", vec![]).await,
        BackendKind::Sqlite => h.backend().exec("ANALYZE", vec![]).await,
        BackendKind::MySql => h.backend().exec("ANALYZE TABLE {commands}", vec![]).await,
    };
    let config = SeaStoreConfig::default().with_max_connections(Some(1));
    let store = SeaStore::connect_with(h.backend().url(), config)
        .await
        .expect("a one-connection store");
    let mut running = Vec::new();
    for _ in 0..RUNNING / CLAIM {
        let claimed = store
            .commands()
            .claim(&params(&["echo"], &["default"], CLAIM))
            .await
            .expect("claim");
        assert_eq!(claimed.len(), CLAIM as usize, "a whole claim");
        running.extend(claimed);
    }
    let batch = successes(&running[..FINISHED]);
    let applied = finish_reading_its_rows_alone(kind, &store, &batch, RUNNING).await;
    assert_eq!(applied, vec![true; FINISHED], "every finish applied");
    assert_eq!(
        h.backend().count(CommandStatus::Succeeded).await,
        FINISHED as i64
    );

    // A renewal of a running row's lease applies; one under a lease it does not hold, not.
    let still = &running[FINISHED];
    let renewed = store
        .commands()
        .renew_leases(&[
            LeaseRenewal {
                id: still.id,
                lease: still.lease,
                extend_by: Some(Duration::from_secs(60)),
            },
            LeaseRenewal {
                id: running[FINISHED + 1].id,
                lease: LeaseToken::new(),
                extend_by: Some(Duration::from_secs(60)),
            },
        ])
        .await
        .expect("renew");
    assert_eq!(renewed, vec![true, false]);

    // A pending row cancels; a running one does not.
    let pending = oldest(&store, &["echo"], "default", 1).await;
    assert_eq!(pending.len(), 1, "a pending row is left");
    let cancel = |id: CommandId| CancelParams {
        id,
        follow_ups: Vec::new(),
        follow_ups_owed: false,
    };
    let canceled = store
        .commands()
        .cancel_unstarted(&cancel(CommandId::from_uuid(pending[0])))
        .await
        .expect("cancel a pending row");
    assert!(canceled, "a pending row is canceled");
    let canceled = store
        .commands()
        .cancel_unstarted(&cancel(still.id))
        .await
        .expect("cancel a running row");
    assert!(!canceled, "a running row is not canceled");
}

/// A successful finish of each of `claimed`.
pub fn successes(claimed: &[ClaimedCommand]) -> Vec<Finish> {
    claimed
        .iter()
        .map(|c| Finish {
            id: c.id,
            lease: c.lease,
            outcome: FinishOutcome::Succeeded {
                output: "null".to_owned(),
            },
            follow_ups: Vec::new(),
        })
        .collect()
}

/// Finishes `batch` (rows `store` claimed) after checking, from what the database reports,
/// that the finish reads the commands table by primary key alone, not the `beside` rows a
/// scan would meet (the running rows, or the whole table): PostgreSQL's plan (run under
/// `EXPLAIN ANALYZE`, rolled back) reads about two rows per finished one, SQLite's plan
/// searches the table by `id` only, and MySQL/MariaDB's session read counters stay under
/// `beside`. Returns which finishes applied.
async fn finish_reading_its_rows_alone(
    kind: BackendKind,
    store: &SeaStore,
    batch: &[Finish],
    beside: u32,
) -> Vec<bool> {
    let finished = batch.len();
    let table = store.commands_table().trim_matches('"').trim_matches('`');
    // PostgreSQL and SQLite show the plan; MySQL/MariaDB count their reads instead.
    let plan = store
        .explain_finish(batch)
        .await
        .expect("explain the finish");
    match kind {
        BackendKind::Postgres => {
            let plan = plan.expect("a plan");
            let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON plan");
            let read = rows_of(&plan[0]["Plan"], table);
            // Each finished row is met about twice (its lookup, its update).
            assert!(
                read <= 4 * finished as u64,
                "a finish of {finished} read {read} rows beside {beside}:\n{plan}"
            );
            store.commands().finish(batch).await.expect("finish")
        }
        BackendKind::Sqlite => {
            let plan = plan.expect("a plan");
            let reads: Vec<&str> = plan
                .lines()
                .filter(|l| l.contains(&format!(" {table} ")) || l.ends_with(table))
                .collect();
            assert!(!reads.is_empty(), "{plan}");
            assert!(
                reads
                    .iter()
                    .all(|l| l.contains("SEARCH") && l.contains("(id=?)")),
                "a finish of {finished} reads the table by primary key alone:\n{plan}"
            );
            store.commands().finish(batch).await.expect("finish")
        }
        BackendKind::MySql => {
            // The store has one connection, so session counters are the finish's own.
            let before = handler_reads(store).await;
            let applied = store.commands().finish(batch).await.expect("finish");
            let read = handler_reads(store).await - before;
            assert!(
                read < u64::from(beside),
                "a finish of {finished} read {read} rows beside {beside}"
            );
            applied
        }
    }
}

/// A finish of 1,000 rows (the size batches reach in a busy drain) reads its own rows by
/// primary key, not the table: SQLite 3.51, left to plan the batch's join as it liked,
/// scanned the whole table against a Bloom filter of the batch from a few hundred rows a
/// batch up, statistics or none, so every finish cost time in proportion to the rows the
/// table keeps (a drain of 200,000 commands ran at half the rate of one of 50,000).
pub async fn a_large_finish_reads_its_rows_alone(h: &Harness<SeaBackend>) {
    const LARGE: u32 = 1_000;
    const TABLE: u32 = 10_000;
    let kind = h.backend().kind();
    insert_pending(h, "echo", "default", TABLE).await;
    let config = SeaStoreConfig::default().with_max_connections(Some(1));
    let store = SeaStore::connect_with(h.backend().url(), config)
        .await
        .expect("a one-connection store");
    let mut running = Vec::new();
    for _ in 0..2 * LARGE / CLAIM {
        running.extend(
            store
                .commands()
                .claim(&params(&["echo"], &["default"], CLAIM))
                .await
                .expect("claim"),
        );
    }
    let batch = successes(&running[..LARGE as usize]);
    let applied = finish_reading_its_rows_alone(kind, &store, &batch, TABLE).await;
    assert_eq!(applied, vec![true; LARGE as usize], "every finish applied");
    assert_eq!(
        h.backend().count(CommandStatus::Succeeded).await,
        i64::from(LARGE)
    );
}
