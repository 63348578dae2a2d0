//! Transactional pushes with a sea-orm transaction.

use std::time::Duration;

use orch::prelude::*;
use sea_orm::TransactionTrait;

use super::SeaBackend;
use crate::Harness;
use crate::commands::{EchoCommand, EchoHandler};
use crate::conformance::{SOON, ledger};
use crate::wait::wait_for_status;

/// `push_in` joins the caller's transaction: rolled back, nothing; committed, it runs.
pub async fn push_in_commits_with_the_transaction(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let orch = h
        .backend()
        .orch_builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    let db = orch.connection();

    let txn = db.begin().await.expect("begin");
    let dropped = orch
        .push_in(&txn, EchoCommand { n: 1 })
        .await
        .expect("push in");
    txn.rollback().await.expect("rollback");
    assert!(orch.get(dropped).await.expect("get").is_none());

    let txn = db.begin().await.expect("begin");
    let kept = orch
        .push_in(&txn, EchoCommand { n: 2 })
        .await
        .expect("push in");
    txn.commit().await.expect("commit");

    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    wait_for_status(h, kept, CommandStatus::Succeeded, SOON).await;
    stop.cancel();
    running.await.expect("engine task").expect("engine");
    assert_eq!(ledger.runs("1"), 0);
    assert_eq!(ledger.runs("2"), 1);
}

/// `schedule_in` joins the caller's transaction too: a rolled-back timer never exists.
pub async fn schedule_in_commits_with_the_transaction(h: &Harness<SeaBackend>) {
    let orch = h.backend().orch_builder().build().await.expect("build");
    let at = orch.database_now().await.expect("now") + chrono::Duration::hours(1);
    let db = orch.connection();
    let txn = db.begin().await.expect("begin");
    let dropped = orch
        .schedule_in(&txn, EchoCommand { n: 1 }, at)
        .await
        .expect("schedule in");
    txn.rollback().await.expect("rollback");
    assert!(orch.get(dropped).await.expect("get").is_none());
    let txn = db.begin().await.expect("begin");
    let kept = orch
        .schedule_in(&txn, EchoCommand { n: 2 }, at)
        .await
        .expect("schedule in");
    txn.commit().await.expect("commit");
    let timers = orch.pending_timers(10).await.expect("timers");
    assert_eq!(
        timers.iter().map(|t| (t.id, t.run_at)).collect::<Vec<_>>(),
        [(kept, at)]
    );
}

/// A `push_in` wakes the idle engine of its process when the transaction commits a moment
/// later, not at the next poll (the poll interval here is 30 s).
pub async fn push_in_starts_when_the_transaction_commits(h: &Harness<SeaBackend>) {
    let (orch, stop, running) = slow_polling_engine(h).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let txn = orch.connection().begin().await.expect("begin");
    let id = orch
        .push_in(&txn, EchoCommand { n: 7 })
        .await
        .expect("push in");
    // The wake-up comes now; the row is visible only after this pause.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    txn.commit().await.expect("commit");
    let committed = tokio::time::Instant::now();
    wait_for_status(
        h,
        id,
        CommandStatus::Succeeded,
        std::time::Duration::from_secs(10),
    )
    .await;
    assert!(
        committed.elapsed() < std::time::Duration::from_secs(3),
        "the command waited {:?} after its commit",
        committed.elapsed()
    );
    stop.cancel();
    running.await.expect("engine task").expect("engine");
}

/// The poll interval of [`slow_polling_engine`]: a row it missed would wait this long.
const SLOW_POLL: Duration = Duration::from_secs(30);

/// A running engine's task.
pub(super) type Running = tokio::task::JoinHandle<orch::Result<()>>;

/// A running engine serving `EchoCommand` that polls every [`SLOW_POLL`].
pub(super) async fn slow_polling_engine(
    h: &Harness<SeaBackend>,
) -> (Orch, CancellationToken, Running) {
    let orch = h
        .backend()
        .orch_builder()
        .state(ledger())
        .handler::<EchoCommand, _>(EchoHandler)
        .poll_interval(SLOW_POLL)
        .build()
        .await
        .expect("build");
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    (orch, stop, running)
}
