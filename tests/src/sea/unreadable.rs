//! A row orch cannot read (written by hand, by another program or a newer version) never
//! makes reads or the engine fail for the other rows.

use orch::prelude::*;

use super::SeaBackend;
use crate::commands::{EchoCommand, EchoHandler};
use crate::conformance::{SOON, ledger};
use crate::wait::{wait_for_status, wait_until};
use crate::{BackendKind, Harness};

/// A row with a status no version of orch writes: `list` and the timers listing leave it
/// out and return the rest, `get` of it is an error naming the row, and the engine runs
/// the other commands.
pub async fn unreadable_rows_are_reported_and_skipped(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let orch = h
        .backend()
        .orch_builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    let model = orch.push(EchoCommand { n: 1 }).await.expect("push");
    let bad = CommandId::new();
    h.backend()
        .exec(
            "INSERT INTO {commands} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at) SELECT {p1}, name, target, 'bogus', input, 0, max_attempts, timeout_ms, run_at + 3600000000, created_at + 1 FROM {commands} WHERE id = {p2}",
            vec![bad.as_uuid().into(), model.as_uuid().into()],
        )
        .await;
    let listed = orch.list(&ListFilter::new()).await.expect("list goes on");
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [model],
        "the unreadable row is left out"
    );
    let error = orch
        .get(bad)
        .await
        .expect_err("the unreadable row is an error");
    assert!(error.to_string().contains(&bad.to_string()), "{error}");
    let later = orch.push(EchoCommand { n: 2 }).await.expect("pushes go on");
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    wait_for_status(h, model, CommandStatus::Succeeded, SOON).await;
    wait_for_status(h, later, CommandStatus::Succeeded, SOON).await;
    stop.cancel();
    running.await.expect("engine task").expect("engine");
    assert_eq!(orch.list(&ListFilter::new()).await.expect("list").len(), 2);
}

/// Rows a claim (and the reaper's search) takes but cannot decode, their `input` text not
/// UTF-8, beside good rows: the good commands all run through a running engine, and each
/// bad row is recorded `dead` at once (lease cleared, `finished_at` set) with a `decode`
/// error naming it, instead of failing every claim (or staying `running` forever).
///
/// PostgreSQL cannot hand orch such a row, so this checks nothing there: a UTF8 database
/// refuses text that is not UTF-8 when it is written, every other column a claim reads has
/// a strict type, and in a `SQL_ASCII` database (which stores such text) the server itself
/// fails the whole statement when it converts the text for the client, before any row
/// reaches the decoder.
pub async fn undecodable_claimed_rows_are_recorded_dead(h: &Harness<SeaBackend>) {
    let Some(bad_input) = not_utf8(h.backend().kind()) else {
        return;
    };
    let ledger = ledger();
    let node = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let good = node
        .push_many((0..20).map(|n| EchoCommand { n }))
        .await
        .expect("push");
    // Due before the good rows, so the first claim takes them together.
    let pending: Vec<CommandId> = (0..2).map(|_| CommandId::new()).collect();
    for id in &pending {
        h.backend()
            .exec(
                &format!("INSERT INTO {{commands}} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at) SELECT {{p1}}, name, target, 'pending', {bad_input}, 0, max_attempts, timeout_ms, run_at - 1000000, created_at FROM {{commands}} WHERE id = {{p2}}"),
                vec![id.as_uuid().into(), good[0].as_uuid().into()],
            )
            .await;
    }
    // Taken by a worker that died: the reaper's search finds it once its lease expired.
    let running = CommandId::new();
    h.backend()
        .exec(
            &format!("INSERT INTO {{commands}} (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at, started_at, lease_owner, lease_token, lease_expires_at) SELECT {{p1}}, name, target, 'running', {bad_input}, 1, max_attempts, timeout_ms, run_at, created_at, run_at, {{p2}}, {{p3}}, run_at - 3600000000 FROM {{commands}} WHERE id = {{p4}}"),
            vec![
                running.as_uuid().into(),
                uuid::Uuid::new_v4().into(),
                uuid::Uuid::new_v4().into(),
                good[0].as_uuid().into(),
            ],
        )
        .await;
    let engine = h.start(&node);
    for id in &good {
        wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
    }
    node.reap_now().await.expect("reap");
    for id in pending.iter().chain([&running]) {
        let row = wait_until(SOON, &format!("unreadable row {id} recorded dead"), || async {
            let rows = h
                .backend()
                .query_text(
                    "SELECT status, last_error, CASE WHEN finished_at IS NOT NULL AND lease_expires_at IS NULL THEN 'closed' ELSE 'open' END FROM {commands} WHERE id = {p1}",
                    vec![id.as_uuid().into()],
                )
                .await;
            rows.into_iter()
                .next()
                .filter(|row| row[0].as_deref() == Some("dead"))
        })
        .await;
        let error = row[1].clone().unwrap_or_default();
        assert!(
            error.contains("unreadable row") && error.contains(&id.to_string()),
            "{error}"
        );
        assert_eq!(row[2].as_deref(), Some("closed"), "lease cleared, finished");
        let errors = h
            .backend()
            .query_text(
                "SELECT kind, message FROM {errors} WHERE command_id = {p1}",
                vec![id.as_uuid().into()],
            )
            .await;
        assert_eq!(errors.len(), 1, "one attempt error: {errors:?}");
        assert_eq!(errors[0][0].as_deref(), Some("decode"));
        assert_eq!(errors[0][1].as_deref(), Some(error.as_str()));
    }
    // Claims go on after them.
    let later = node.push(EchoCommand { n: 100 }).await.expect("push");
    wait_for_status(h, later, CommandStatus::Succeeded, SOON).await;
    engine.stop().await;
    for n in (0..20).chain([100]) {
        assert_eq!(ledger.runs(&n.to_string()), 1, "{n} ran once");
    }
}

/// Text the database stores in a text column that is not UTF-8 (`None`: there is none). On
/// MariaDB a UTF-16 surrogate (`ED A0 80`), which its utf8mb4 accepts.
fn not_utf8(kind: BackendKind) -> Option<&'static str> {
    match kind {
        BackendKind::Sqlite => Some("CAST(x'ff7b7d' AS TEXT)"),
        BackendKind::MySql => Some("CONVERT(x'eda080' USING utf8mb4)"),
        BackendKind::Postgres => None,
    }
}
