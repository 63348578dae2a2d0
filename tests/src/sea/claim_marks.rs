//! Rows committed behind what claims took before are still claimed, in due time. On
//! PostgreSQL, while claims come back full, a claim reads each range from a little before
//! the earliest row the last claim of the same pairs took
//! (`orch-sea/src/commands/claim/marks.rs`); such rows are then found by a sweep (a claim
//! from the start of every range), at least once a second, and at once by a claim that
//! comes back short. The other backends read every range whole, and these tests hold there
//! as they are.

use std::time::Duration;

use chrono::Utc;
use orch::Orch;
use orch::internal::SeaStore;
use orch::internal::store::{ClaimParams, ClaimedCommand, Store};
use orch::prelude::*;
use sea_orm::TransactionTrait;

use super::SeaBackend;
use super::claim_cost::{insert_pending_due, oldest, params};
use super::finish_cost::successes;
use super::transactions::slow_polling_engine;
use crate::Harness;
use crate::backend::SuiteBackend;
use crate::backends::BackendKind;
use crate::commands::EchoCommand;
use crate::wait::wait_for_status;

/// Rows of the backlog the late row comes into.
const BACKLOG: u32 = 600;
/// Rows per claim while the backlog drains: far fewer than it holds, so claims come back
/// full for longer than a sweep's interval.
const SMALL_CLAIM: u32 = 5;
/// Due times of the backlog: one second apart from about eleven days after the epoch (all
/// long due), far ahead of the late row's.
const EARLY_DUE: (i64, i64) = (1_000_000_000_000, 1_000_000);
/// Due time of the late row: 1 µs after the epoch, behind every row of the backlog.
const LATE_DUE: (i64, i64) = (0, 1);
/// The longest a row committed behind full claims may wait for a sweep here: the sweep
/// comes within a second of the last, plus room for a slow machine.
const SWEEP_DEADLINE: Duration = Duration::from_secs(5);
/// The longest a row committed with a wake-up may take to start here.
const AT_ONCE: Duration = Duration::from_secs(3);

/// Claims of 5 drain a backlog of 600 rows, 20 ms apart; after the first, a row due long
/// before all of them is inserted by hand (no wake-up, no push). It is claimed while the
/// backlog still drains, within a sweep's interval, not after the backlog is gone; every
/// row is claimed once.
pub async fn a_row_behind_full_claims_is_claimed_by_a_sweep(h: &Harness<SeaBackend>) {
    insert_pending_due(h, "echo", "default", BACKLOG, EARLY_DUE).await;
    let store = SeaStore::connect(h.backend().url()).await.expect("store");
    let claim = params(&["echo"], &["default"], SMALL_CLAIM);
    let first = claim_and_finish(&store, &claim).await;
    assert_eq!(first.len(), SMALL_CLAIM as usize);
    insert_pending_due(h, "echo", "default", 1, LATE_DUE).await;
    let late = oldest(&store, &["echo"], "default", 1).await;
    let inserted = tokio::time::Instant::now();
    let mut taken = first.len();
    loop {
        let claimed = claim_and_finish(&store, &claim).await;
        taken += claimed.len();
        if claimed.iter().any(|c| late.contains(&c.id.as_uuid())) {
            break;
        }
        assert!(
            taken <= BACKLOG as usize,
            "the late row was not claimed before the backlog ran out"
        );
        assert!(
            inserted.elapsed() < SWEEP_DEADLINE,
            "the late row waited {SWEEP_DEADLINE:?} behind full claims"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        taken <= BACKLOG as usize,
        "claimed while the backlog drained ({taken} of {} rows taken by then)",
        BACKLOG + 1
    );
    loop {
        let claimed = claim_and_finish(&store, &claim).await;
        if claimed.is_empty() {
            break;
        }
        taken += claimed.len();
    }
    assert_eq!(taken, BACKLOG as usize + 1, "each row claimed once");
    assert_eq!(
        h.backend().count(CommandStatus::Succeeded).await,
        i64::from(BACKLOG) + 1
    );
}

/// A claim comes back full; then a row due long before what it took is inserted by hand.
/// The next claim, asking for more than is left, takes the rest and that row, at once.
pub async fn a_claim_short_of_its_limit_takes_rows_behind_the_last_at_once(
    h: &Harness<SeaBackend>,
) {
    insert_pending_due(h, "echo", "default", 2 * SMALL_CLAIM, EARLY_DUE).await;
    let store = SeaStore::connect(h.backend().url()).await.expect("store");
    let first = claim_and_finish(&store, &params(&["echo"], &["default"], SMALL_CLAIM)).await;
    assert_eq!(first.len(), SMALL_CLAIM as usize, "a full claim");
    insert_pending_due(h, "echo", "default", 1, LATE_DUE).await;
    let late = oldest(&store, &["echo"], "default", 1).await;
    let rest = claim_and_finish(&store, &params(&["echo"], &["default"], 4 * SMALL_CLAIM)).await;
    assert_eq!(
        rest.len(),
        SMALL_CLAIM as usize + 1,
        "the rest and the late row"
    );
    assert!(rest.iter().any(|c| late.contains(&c.id.as_uuid())));
    assert_eq!(h.backend().count(CommandStatus::Pending).await, 0);
}

/// Claims with `claim` through `store`, finishes what it took as succeeded, returns it.
async fn claim_and_finish(store: &SeaStore, claim: &ClaimParams) -> Vec<ClaimedCommand> {
    let claimed = store.commands().claim(claim).await.expect("claim");
    if !claimed.is_empty() {
        let applied = store
            .commands()
            .finish(&successes(&claimed))
            .await
            .expect("finish");
        assert!(applied.iter().all(|ok| *ok), "every finish applied");
    }
    claimed
}

/// An engine that polls every 30 s runs a command, then a `push_in` whose transaction
/// stays open 300 ms while the engine runs a later push (on the server backends): the
/// first row is then due before everything the engine claimed since. It starts within moments of its commit, not at
/// the next poll.
pub async fn a_push_in_committed_late_starts_at_once(h: &Harness<SeaBackend>) {
    let (orch, stop, running) = slow_polling_engine(h).await;
    run_one(h, &orch, 1).await;
    let txn = orch.connection().begin().await.expect("begin");
    let late = orch
        .push_in(&txn, EchoCommand { n: 2 })
        .await
        .expect("push in");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SQLite has one writer at a time: the open transaction holds it, so no other push can
    // commit before it does (and SQLite claims read every range whole).
    if h.backend().kind() != BackendKind::Sqlite {
        run_one(h, &orch, 3).await;
    }
    txn.commit().await.expect("commit");
    wait_for_status(h, late, CommandStatus::Succeeded, AT_ONCE).await;
    stop.cancel();
    running.await.expect("engine task").expect("engine");
}

/// An engine that polls every 30 s has run a command; a push due ten seconds ago (a time
/// behind everything it claimed) starts within moments, not at the next poll.
pub async fn an_overdue_push_starts_at_once(h: &Harness<SeaBackend>) {
    let (orch, stop, running) = slow_polling_engine(h).await;
    run_one(h, &orch, 1).await;
    let overdue = orch
        .push_with(
            EchoCommand { n: 2 },
            Push::new().run_at(Utc::now() - chrono::Duration::seconds(10)),
        )
        .await
        .expect("push");
    wait_for_status(h, overdue, CommandStatus::Succeeded, AT_ONCE).await;
    stop.cancel();
    running.await.expect("engine task").expect("engine");
}

/// Pushes `EchoCommand { n }` and waits until it has run.
async fn run_one(h: &Harness<SeaBackend>, orch: &Orch, n: u64) {
    let id = orch.push(EchoCommand { n }).await.expect("push");
    wait_for_status(h, id, CommandStatus::Succeeded, AT_ONCE).await;
}
