//! `SeaStoreConfig::delete_succeeded`: a command that succeeds is deleted with the error
//! rows of its earlier attempts, unless it has an idempotency key; failures and follow-ups
//! are as usual; a finish that lost its lease deletes nothing.

use std::time::Duration;

use orch::internal::LeaseToken;
use orch::internal::store::{Finish, FinishOutcome, Store};
use orch::prelude::*;
use orch::{Orch, SeaStoreConfig};

use super::SeaBackend;
use crate::Harness;
use crate::commands::{
    Child, ChildHandler, EchoCommand, EchoHandler, Failing, FailingHandler, Flaky, FlakyHandler,
    Parent, ParentHandler,
};
use crate::conformance::lease::{self, claim_params};
use crate::conformance::{SOON, ledger};
use crate::wait::{wait_for_status, wait_until};

/// An `Orch` on the test's database that deletes what succeeds, with the suite's handlers.
async fn deleting(
    h: &Harness<SeaBackend>,
    ledger: &std::sync::Arc<crate::commands::Ledger>,
) -> Orch {
    h.backend()
        .orch_builder()
        .store_config(SeaStoreConfig::default().with_delete_succeeded(true))
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .handler::<Flaky, _>(FlakyHandler)
        .handler::<Failing, _>(FailingHandler)
        .handler::<Parent, _>(ParentHandler)
        .handler::<Child, _>(ChildHandler)
        .build()
        .await
        .expect("build")
}

/// How many error rows the command `id` has.
async fn error_rows(h: &Harness<SeaBackend>, id: CommandId) -> usize {
    h.backend()
        .query_text(
            "SELECT kind FROM {errors} WHERE command_id = {p1}",
            vec![id.as_uuid().into()],
        )
        .await
        .len()
}

/// Waits until the command `id` is gone.
async fn wait_gone(orch: &Orch, id: CommandId, what: &str) {
    wait_until(SOON, what, || async {
        orch.get(id).await.expect("get").is_none().then_some(())
    })
    .await;
}

/// Run by an engine: succeeded commands without a key are deleted (with the errors of their
/// earlier attempts, and their follow-ups run and are deleted in turn); a keyed one is kept
/// and still refuses duplicates; a dead one is kept with its error.
pub async fn succeeded_commands_are_deleted(h: &Harness<SeaBackend>) {
    let ledger = ledger();
    let orch = deleting(h, &ledger).await;
    let plain = orch.push(EchoCommand { n: 1 }).await.expect("push");
    let key = Push::new().idempotency_key("kept-2");
    let keyed = orch
        .push_with(EchoCommand { n: 2 }, key.clone())
        .await
        .expect("push keyed");
    let flaky = orch
        .push(Flaky { fail_times: 1 })
        .await
        .expect("push flaky");
    let failing = orch
        .push(Failing { fatal: true })
        .await
        .expect("push failing");
    let parent = orch.push(Parent { n: 3 }).await.expect("push parent");
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });

    wait_gone(&orch, plain, "the plain command deleted").await;
    assert_eq!(ledger.runs("1"), 1);
    let kept = wait_for_status(h, keyed, CommandStatus::Succeeded, SOON).await;
    assert_eq!(
        kept.output.as_deref(),
        Some("2"),
        "a keyed command keeps its output"
    );
    let again = orch
        .submit(EchoCommand { n: 2 }, key)
        .await
        .expect("push the key again");
    assert_eq!(again.id, keyed);
    assert!(!again.created, "the key still refuses a duplicate");
    wait_gone(&orch, flaky, "the flaky command deleted once it succeeded").await;
    assert_eq!(
        error_rows(h, flaky).await,
        0,
        "its first attempt's error went with it"
    );
    let dead = wait_for_status(h, failing, CommandStatus::Dead, SOON).await;
    assert_eq!(dead.errors.len(), 1, "a failure is kept: {dead:?}");
    wait_until(SOON, "the follow-up ran", || async {
        (ledger.runs("child:31") == 1).then_some(())
    })
    .await;
    wait_gone(&orch, parent, "the parent deleted").await;
    wait_until(SOON, "the follow-up deleted", || async {
        (h.count(CommandStatus::Succeeded).await == 1 && h.count(CommandStatus::Running).await == 0)
            .then_some(())
    })
    .await;
    stop.cancel();
    running.await.expect("join").expect("run");
    assert_eq!(ledger.runs("2"), 1, "the duplicate never ran");
    assert_eq!(ledger.runs("parent:3"), 1);
    assert_eq!(h.count(CommandStatus::Dead).await, 1);
}

fn success(id: CommandId, lease: LeaseToken) -> Finish {
    lease::success(id, lease, "7")
}

/// Deleting keeps every fence: a stale attempt's success, a settle after the lease ran out
/// and a second finish delete nothing; the holder's success deletes the row and the error
/// the reaper recorded. One batch mixing a deleted success, a kept (keyed) success and a
/// retry applies all three.
pub async fn deleting_keeps_the_fences(h: &Harness<SeaBackend>) {
    let orch = deleting(h, &ledger()).await;
    let store = orch.store();
    let commands = store.commands();
    let id = orch.push(EchoCommand { n: 1 }).await.expect("push");
    let a = commands.claim(&claim_params(1)).await.expect("claim a");
    assert_eq!(a.len(), 1);
    h.expire_lease(id).await;
    assert_eq!(orch.reap_now().await.expect("reap"), 1);
    h.make_due(id).await;
    let b = commands.claim(&claim_params(1)).await.expect("claim b");
    assert_eq!(b.len(), 1);
    let stale = commands
        .finish(&[success(id, a[0].lease)])
        .await
        .expect("finish a");
    assert_eq!(
        stale,
        [false],
        "the stale attempt is told it lost the lease"
    );
    let rec = orch.get(id).await.expect("get").expect("still there");
    assert_eq!(rec.status, CommandStatus::Running);
    assert_eq!(error_rows(h, id).await, 1, "the reaper's error");
    let fresh = commands
        .finish(&[success(id, b[0].lease)])
        .await
        .expect("finish b");
    assert_eq!(fresh, [true]);
    assert!(orch.get(id).await.expect("get").is_none(), "deleted");
    assert_eq!(error_rows(h, id).await, 0, "with its error rows");
    let again = commands
        .finish(&[success(id, b[0].lease)])
        .await
        .expect("finish b twice");
    assert_eq!(again, [false]);

    // A settle (the work-queue API) deletes only while the lease is live.
    let late = orch.push(EchoCommand { n: 2 }).await.expect("push");
    let c = commands.claim(&claim_params(1)).await.expect("claim c");
    h.expire_lease(late).await;
    let settled = commands
        .settle_live(&[success(late, c[0].lease)])
        .await
        .expect("settle");
    assert_eq!(settled, [false], "the lease ran out");
    assert!(orch.get(late).await.expect("get").is_some(), "kept");
    let live = orch.push(EchoCommand { n: 3 }).await.expect("push");
    let d = commands.claim(&claim_params(1)).await.expect("claim d");
    let settled = commands
        .settle_live(&[success(live, d[0].lease)])
        .await
        .expect("settle");
    assert_eq!(settled, [true]);
    assert!(orch.get(live).await.expect("get").is_none(), "deleted");

    // One batch: a success without a key (deleted), one with a key (kept), a retry.
    let plain = orch.push(EchoCommand { n: 10 }).await.expect("push");
    let keyed = orch
        .push_with(EchoCommand { n: 11 }, Push::new().idempotency_key("k-11"))
        .await
        .expect("push");
    let retried = orch.push(EchoCommand { n: 12 }).await.expect("push");
    // The expired command `late` is still claimable only by the reaper: claim the three.
    let held = commands.claim(&claim_params(3)).await.expect("claim three");
    assert_eq!(held.len(), 3, "{held:?}");
    let lease = |id: CommandId| {
        held.iter()
            .find(|c| c.id == id)
            .map(|c| c.lease)
            .expect("claimed")
    };
    let retry = Finish {
        id: retried,
        lease: lease(retried),
        outcome: FinishOutcome::Retry {
            failure: Failure {
                kind: FailureKind::Error,
                message: "again".into(),
                attempt: 1,
            },
            delay: Duration::from_secs(60),
        },
        follow_ups: Vec::new(),
    };
    let applied = commands
        .finish(&[
            success(plain, lease(plain)),
            success(keyed, lease(keyed)),
            retry,
        ])
        .await
        .expect("finish the batch");
    assert_eq!(applied, [true, true, true]);
    assert!(orch.get(plain).await.expect("get").is_none(), "deleted");
    let kept = orch.get(keyed).await.expect("get").expect("kept");
    assert_eq!(kept.status, CommandStatus::Succeeded);
    assert_eq!(kept.output.as_deref(), Some("7"));
    let pending = orch.get(retried).await.expect("get").expect("kept");
    assert_eq!(pending.status, CommandStatus::Pending);
    assert_eq!(pending.errors.len(), 1);

    // One batch: a success and a release (a shutdown hands a command back).
    let done = orch.push(EchoCommand { n: 20 }).await.expect("push");
    let handed_back = orch.push(EchoCommand { n: 21 }).await.expect("push");
    let held = commands.claim(&claim_params(2)).await.expect("claim two");
    assert_eq!(held.len(), 2, "{held:?}");
    let lease = |id: CommandId| {
        held.iter()
            .find(|c| c.id == id)
            .map(|c| c.lease)
            .expect("claimed")
    };
    let release = Finish {
        id: handed_back,
        lease: lease(handed_back),
        outcome: FinishOutcome::Release,
        follow_ups: Vec::new(),
    };
    let applied = commands
        .finish(&[success(done, lease(done)), release])
        .await
        .expect("finish a success and a release");
    assert_eq!(applied, [true, true]);
    assert!(orch.get(done).await.expect("get").is_none(), "deleted");
    let back = orch.get(handed_back).await.expect("get").expect("kept");
    assert_eq!(back.status, CommandStatus::Pending);
    assert_eq!(back.attempts, 0, "a release refunds the attempt");
}
