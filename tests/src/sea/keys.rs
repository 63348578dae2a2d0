//! Idempotency keys, names and targets compare byte for byte on every backend (MariaDB's
//! default collations ignore case and trailing spaces), and a duplicate key pushed inside
//! the caller's transaction resolves to the row that really exists, even when that row was
//! committed after the transaction's snapshot (MariaDB's REPEATABLE READ).

use orch::prelude::*;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use super::SeaBackend;
use crate::commands::{EchoCommand, EchoHandler, Say, SayHandler};
use crate::conformance::{SOON, ledger};
use crate::wait::wait_for_status;
use crate::{BackendKind, Harness};

/// Keys differing only in case, in trailing spaces or in Unicode normalization are
/// different keys; a name or target differing the same way is another name or target.
pub async fn keys_names_and_targets_compare_byte_for_byte(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let orch = h
        .backend()
        .orch_builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    let keys = ["key", "KEY", "key ", "caf\u{e9}", "cafe\u{301}"];
    let mut ids = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let pushed = orch
            .submit(
                EchoCommand { n: n as u64 },
                Push::new().idempotency_key(*key),
            )
            .await
            .expect("submit");
        assert!(pushed.created, "key {key:?} is new");
        ids.push(pushed.id);
    }
    for (n, key) in keys.iter().enumerate() {
        let again = orch
            .submit(
                EchoCommand { n: 100 + n as u64 },
                Push::new().idempotency_key(*key),
            )
            .await
            .expect("submit again");
        assert!(!again.created, "key {key:?} exists");
        assert_eq!(again.id, ids[n], "key {key:?} finds its own row");
    }
    // A target with a trailing space or another case is not the engine's target.
    let elsewhere = orch
        .push_with(EchoCommand { n: 900 }, Push::new().target("default "))
        .await
        .expect("push");
    let shouting = orch
        .push_with(EchoCommand { n: 901 }, Push::new().target("DEFAULT"))
        .await
        .expect("push");
    // A row whose name differs from `echo` only by case or a trailing space (written by
    // another program, or an older type name) is not this engine's to run.
    for (name, n) in [("ECHO", 902), ("echo ", 903)] {
        h.backend()
            .exec(
                "INSERT INTO {commands} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at) SELECT {p1}, {p2}, target, status, {p3}, 0, max_attempts, timeout_ms, run_at, created_at FROM {commands} WHERE id = {p4}",
                vec![
                    uuid::Uuid::new_v4().into(),
                    name.into(),
                    format!(r#"{{"n":{n}}}"#).into(),
                    ids[0].as_uuid().into(),
                ],
            )
            .await;
    }
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    for id in &ids {
        wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
    }
    // Give the engine a few polls to (wrongly) take the others.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.cancel();
    running.await.expect("engine task").expect("engine");
    for id in [elsewhere, shouting] {
        let rec = orch.get(id).await.expect("get").expect("exists");
        assert_eq!(rec.status, CommandStatus::Pending, "{}", rec.target);
    }
    for n in [900, 901, 902, 903] {
        assert_eq!(
            ledger.runs(&n.to_string()),
            0,
            "command {n} is not this engine's"
        );
    }
}

/// A duplicate key pushed inside a transaction whose snapshot predates the existing row
/// (MariaDB's default REPEATABLE READ; PostgreSQL's READ COMMITTED) resolves to the
/// existing row's id, not to an id that was never stored.
pub async fn duplicate_key_in_an_older_snapshot_finds_the_real_row(h: &Harness<SeaBackend>) {
    let orch = h
        .backend()
        .orch_builder()
        .handler::<Say, _>(SayHandler)
        .build()
        .await
        .expect("build");
    let db = orch.connection();
    let txn = db.begin().await.expect("begin");
    if h.backend().kind() != BackendKind::Sqlite {
        // Take the snapshot now (SQLite allows one writer, so a transaction there cannot
        // read before another commits and then write).
        txn.query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT 1".to_owned(),
        ))
        .await
        .expect("read");
        let table = h.backend().admin().await.commands_table().to_owned();
        txn.query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            format!("SELECT id FROM {table}"),
        ))
        .await
        .expect("read the table");
    }
    let first = if h.backend().kind() == BackendKind::Sqlite {
        None
    } else {
        Some(
            orch.submit(
                Say {
                    text: "first".into(),
                    fail: false,
                },
                Push::new().idempotency_key("only-once"),
            )
            .await
            .expect("submit outside"),
        )
    };
    let inside = orch
        .submit_in(
            &txn,
            Say {
                text: "second".into(),
                fail: false,
            },
            Push::new().idempotency_key("only-once"),
        )
        .await
        .expect("submit inside");
    txn.commit().await.expect("commit");
    if let Some(first) = first {
        assert!(first.created);
        assert!(!inside.created, "the key exists");
        assert_eq!(inside.id, first.id, "the id that really exists");
    }
    let rec = orch
        .get(inside.id)
        .await
        .expect("get")
        .expect("the returned id exists");
    assert_eq!(rec.idempotency_key.as_deref(), Some("only-once"));
}
