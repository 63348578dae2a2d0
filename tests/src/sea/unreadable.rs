//! A row orch cannot read (written by hand, by another program or a newer version) never
//! makes reads or the engine fail for the other rows.

use orch::prelude::*;

use super::SeaBackend;
use crate::Harness;
use crate::commands::{EchoCommand, EchoHandler};
use crate::conformance::{SOON, ledger};
use crate::wait::wait_for_status;

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
