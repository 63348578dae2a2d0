//! Cancellation of pending and running commands.

use orch::ListFilter;
use orch::prelude::*;

use super::{SOON, ledger};
use std::time::Duration;

use crate::commands::{Blocker, BlockerHandler, EchoCommand, EchoHandler, Parent, ParentHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// A pending command is canceled, never runs, and its `on_cancel` follow-up exists.
pub async fn cancel_pending_adds_on_cancel_follow_ups<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<Parent, _>(ParentHandler, &ledger).await;
    let id = orch.push(Parent { n: 9 }).await.expect("push");
    assert_eq!(
        orch.cancel(id).await.expect("cancel"),
        CancelOutcome::CanceledPending
    );
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Canceled);
    assert!(rec.finished_at.is_some());
    let children = orch
        .list(&ListFilter::new().parent(id))
        .await
        .expect("list");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].input, r#"{"what":"parent 9 canceled"}"#);
    let running = h.start(&orch);
    let marker = orch.push(Parent { n: 1 }).await.expect("push");
    wait_for_status(h, marker, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(ledger.runs("parent:9"), 0, "a canceled command never runs");
}

/// Canceling a running command fires its handler's token; the command ends `canceled`.
pub async fn cancel_running_fires_the_token<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<Blocker, _>(BlockerHandler, &ledger).await;
    let running = h.start(&orch);
    let id = orch
        .push(Blocker { label: "b".into() })
        .await
        .expect("push");
    wait_until(SOON, "the blocker to start", || async {
        ledger.saw("b:start").then_some(())
    })
    .await;
    assert_eq!(
        orch.cancel(id).await.expect("cancel"),
        CancelOutcome::CanceledRunning
    );
    wait_until(SOON, "the handler to see its token", || async {
        ledger.saw("b:cancelled").then_some(())
    })
    .await;
    running.stop().await;
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Canceled);
    assert!(rec.errors.is_empty(), "a cancel is not a failed attempt");
}

/// Canceling a finished or unknown command reports so and changes nothing.
pub async fn cancel_finished_changes_nothing<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let running = h.start(&orch);
    let id = orch.push(EchoCommand { n: 3 }).await.expect("push");
    wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(
        orch.cancel(id).await.expect("cancel"),
        CancelOutcome::AlreadyFinished(CommandStatus::Succeeded)
    );
    assert_eq!(
        orch.cancel(CommandId::new()).await.expect("cancel"),
        CancelOutcome::NotFound
    );
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Succeeded);
}

/// A process with no handler for a command cannot compute its `on_cancel` follow-ups, yet
/// canceling there (a pending command, a timer, a command running on another engine)
/// loses none: an engine with the handler inserts each exactly once, even with two such
/// engines at it.
pub async fn on_cancel_follow_ups_survive_a_canceller_without_the_handler<B: SuiteBackend>(
    h: &Harness<B>,
) {
    let bare = h.client().await;
    let pending = bare.push(Parent { n: 21 }).await.expect("push");
    let timer = bare
        .push_with(
            Parent { n: 22 },
            Push::new().delay(Duration::from_secs(3600)),
        )
        .await
        .expect("push a timer");
    assert_eq!(
        bare.cancel(pending).await.expect("cancel"),
        CancelOutcome::CanceledPending
    );
    assert!(bare.cancel_timer(timer).await.expect("cancel the timer"));
    for id in [pending, timer] {
        let rec = bare.get(id).await.expect("get").expect("exists");
        assert_eq!(rec.status, CommandStatus::Canceled, "canceled at once");
    }

    let ledger = ledger();
    let blocking = h.engine::<Blocker, _>(BlockerHandler, &ledger).await;
    let blocking_run = h.start(&blocking);
    let running = bare
        .push(Blocker { label: "r".into() })
        .await
        .expect("push");
    wait_until(SOON, "the blocker to start", || async {
        ledger.saw("r:start").then_some(())
    })
    .await;
    assert_eq!(
        bare.cancel(running).await.expect("cancel"),
        CancelOutcome::CanceledRunning
    );
    wait_until(SOON, "the running handler to see its token", || async {
        ledger.saw("r:cancelled").then_some(())
    })
    .await;
    blocking_run.stop().await;

    // Two engines with the handler race to pay; each debt is paid once.
    let first = h.engine::<Parent, _>(ParentHandler, &ledger).await;
    let second = h.engine::<Parent, _>(ParentHandler, &ledger).await;
    let (one, two) = (h.start(&first), h.start(&second));
    for (id, n) in [(pending, 21), (timer, 22)] {
        let children = wait_until(SOON, "the owed on_cancel follow-up", || async {
            let found = bare
                .list(&ListFilter::new().parent(id))
                .await
                .expect("list");
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(children.len(), 1);
        assert_eq!(
            children[0].input,
            format!(r#"{{"what":"parent {n} canceled"}}"#)
        );
    }
    // More passes of both engines add nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    one.stop().await;
    two.stop().await;
    for id in [pending, timer] {
        let children = bare
            .list(&ListFilter::new().parent(id))
            .await
            .expect("list");
        assert_eq!(children.len(), 1, "owed follow-ups are inserted once");
    }
    assert_eq!(ledger.runs("parent:21") + ledger.runs("parent:22"), 0);
    let rec = bare.get(running).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Canceled);
}
