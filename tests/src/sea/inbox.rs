//! The inbox: one effect per message however many deliveries race, conflicts reported,
//! failures rolled back and recorded, the step-by-step calls, retention.

use std::process::Stdio;
use std::time::Duration;

use orch::Error;
use orch::inbox::{InboxError, InboxStatus, Processed};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

use super::SeaBackend;
use crate::Harness;
use crate::backends::BackendKind;

/// Deliveries per process in the exactly-once test.
pub const DELIVERIES_PER_PROCESS: usize = 20;

async fn create_effects(backend: &SeaBackend) {
    let orch = backend.orch_builder().build().await.expect("build");
    orch.connection()
        .execute_unprepared("CREATE TABLE IF NOT EXISTS inbox_effects (message_id VARCHAR(64) NOT NULL, amount INTEGER NOT NULL)")
        .await
        .expect("create the effects table");
}

async fn effects(backend: &SeaBackend, message_id: &str) -> i64 {
    let orch = backend.orch_builder().build().await.expect("build");
    let db = orch.connection();
    let ph = if backend.kind() == BackendKind::Postgres {
        "$1"
    } else {
        "?"
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM inbox_effects WHERE message_id = {ph}"),
            [message_id.into()],
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// The effect: one row per processing.
async fn credit(txn: &DatabaseTransaction, message_id: &str) -> Result<(), sea_orm::DbErr> {
    let ph = if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        format!("INSERT INTO inbox_effects (message_id, amount) VALUES ({ph}, 5)"),
        [message_id.into()],
    ))
    .await
    .map(|_| ())
}

/// One process's deliveries of message `message_id`: each in its own task, all at once.
/// Returns how many ran the handler.
pub async fn deliver_many(backend: &SeaBackend, message_id: &str) -> usize {
    let orch = backend.orch_builder().build().await.expect("build");
    let tasks: Vec<_> = (0..DELIVERIES_PER_PROCESS)
        .map(|_| {
            let (inbox, message_id) = (orch.inbox(), message_id.to_owned());
            tokio::spawn(async move {
                let outcome = inbox
                    .process_once("payments", &message_id, br#"{"amount":5}"#, |txn| {
                        let message_id = message_id.clone();
                        Box::pin(async move {
                            // Hold the transaction a moment so deliveries really overlap.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            credit(txn, &message_id).await
                        })
                    })
                    .await
                    .expect("process");
                matches!(outcome, Processed::Done(()))
            })
        })
        .collect();
    let mut ran = 0;
    for task in tasks {
        if task.await.expect("delivery") {
            ran += 1;
        }
    }
    ran
}

/// N concurrent deliveries of one message from many tasks in two processes: one effect.
pub async fn inbox_process_once_exactly_once(h: &Harness<SeaBackend>) {
    create_effects(h.backend()).await;
    let child = h
        .worker(&["inbox", "msg-race"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("second process");
    let here = deliver_many(h.backend(), "msg-race").await;
    let output = child.wait_with_output().await.expect("wait");
    assert!(output.status.success(), "the second process failed");
    let there: usize = String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("ran ").and_then(|n| n.trim().parse().ok()))
        .expect("the second process reports how many ran");
    assert_eq!(here + there, 1, "exactly one delivery ran the handler");
    assert_eq!(effects(h.backend(), "msg-race").await, 1, "one effect");
    let orch = h.backend().orch_builder().build().await.expect("build");
    let entry = orch
        .inbox()
        .get("payments", "msg-race")
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(entry.status, InboxStatus::Processed);
    assert_eq!(entry.attempts, 1);
    assert!(entry.processed_at.is_some());
}

/// Another payload under a known id is a conflict; a failing handler rolls back and is
/// recorded, and a redelivery then succeeds; a dead message is refused; the step-by-step
/// calls keep status, attempts and errors; retention prunes processed entries.
pub async fn inbox_conflicts_failures_and_steps(h: &Harness<SeaBackend>) {
    create_effects(h.backend()).await;
    let orch = h.backend().orch_builder().build().await.expect("build");
    let inbox = orch.inbox();

    // A failing handler: its write rolls back, the failure is recorded.
    let failed = inbox
        .process_once("orders", "m1", b"v1", |txn| {
            Box::pin(async move {
                credit(txn, "m1").await.expect("write");
                Err::<(), _>("downstream said no")
            })
        })
        .await;
    assert!(matches!(
        failed,
        Err(InboxError::Handler("downstream said no"))
    ));
    assert_eq!(effects(h.backend(), "m1").await, 0, "rolled back");
    let entry = inbox
        .get("orders", "m1")
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(entry.status, InboxStatus::Failed);
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.last_error.as_deref(), Some("downstream said no"));

    // The redelivery succeeds; later ones are duplicates.
    let done = inbox
        .process_once("orders", "m1", b"v1", |txn| Box::pin(credit(txn, "m1")))
        .await
        .expect("process");
    assert_eq!(done, Processed::Done(()));
    let again = inbox
        .process_once("orders", "m1", b"v1", |txn| Box::pin(credit(txn, "m1")))
        .await
        .expect("process");
    assert_eq!(again, Processed::Duplicate);
    assert_eq!(effects(h.backend(), "m1").await, 1);
    let entry = inbox
        .get("orders", "m1")
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!((entry.status, entry.attempts), (InboxStatus::Processed, 2));

    // Same id, other content: a conflict, never a duplicate.
    let conflict = inbox
        .process_once("orders", "m1", b"v2", |txn| Box::pin(credit(txn, "m1")))
        .await;
    assert!(
        matches!(conflict, Err(InboxError::Conflict { .. })),
        "{conflict:?}"
    );
    assert!(matches!(
        inbox.already_processed("orders", "m1", b"v2").await,
        Err(Error::Conflict(_))
    ));
    // Sources are separate namespaces.
    assert!(
        !inbox
            .already_processed("billing", "m1", b"v2")
            .await
            .expect("other source")
    );

    // The step-by-step calls.
    assert!(
        !inbox
            .already_processed("orders", "m2", b"x")
            .await
            .expect("first sight")
    );
    assert!(
        inbox
            .mark_processing("orders", "m2")
            .await
            .expect("processing")
    );
    assert!(
        inbox
            .mark_failed("orders", "m2", "timeout")
            .await
            .expect("failed")
    );
    assert!(
        inbox
            .mark_processing("orders", "m2")
            .await
            .expect("processing")
    );
    assert!(
        inbox
            .mark_processed("orders", "m2")
            .await
            .expect("processed")
    );
    assert!(
        !inbox
            .mark_processed("orders", "m2")
            .await
            .expect("processed twice")
    );
    assert!(
        inbox
            .already_processed("orders", "m2", b"x")
            .await
            .expect("seen")
    );
    let entry = inbox
        .get("orders", "m2")
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!((entry.status, entry.attempts), (InboxStatus::Processed, 2));
    assert!(entry.last_seen_at >= entry.first_seen_at);
    assert!(
        !inbox
            .mark_processing("orders", "unknown")
            .await
            .expect("unknown")
    );

    // Dead messages are refused.
    assert!(
        !inbox
            .already_processed("orders", "m3", b"x")
            .await
            .expect("first sight")
    );
    assert!(
        inbox
            .mark_dead("orders", "m3", "poison")
            .await
            .expect("dead")
    );
    let dead = inbox
        .process_once("orders", "m3", b"x", |txn| Box::pin(credit(txn, "m3")))
        .await;
    assert!(matches!(dead, Err(InboxError::Dead { .. })), "{dead:?}");
    assert_eq!(effects(h.backend(), "m3").await, 0);

    // Bad ids are refused before SQL.
    for (source, id) in [("", "x"), ("s", ""), ("s", "a\nb")] {
        let bad = inbox
            .process_once(source, id, b"x", |_txn| {
                Box::pin(async { Ok::<(), String>(()) })
            })
            .await;
        assert!(
            matches!(bad, Err(InboxError::Orch(Error::Config(_)))),
            "{source:?}/{id:?}: {bad:?}"
        );
    }
    let long = "i".repeat(256);
    assert!(matches!(
        inbox.already_processed("s", &long, b"x").await,
        Err(Error::Config(_))
    ));

    // Retention: processed entries older than the period go.
    h.backend()
        .exec(
            "UPDATE {inbox} SET processed_at = processed_at - 864000000000 WHERE message_id = 'm1'",
            vec![],
        )
        .await;
    assert_eq!(
        inbox.prune(Duration::from_secs(3600)).await.expect("prune"),
        1
    );
    assert!(inbox.get("orders", "m1").await.expect("get").is_none());
    assert!(
        inbox.get("orders", "m2").await.expect("get").is_some(),
        "recent entries stay"
    );
}
