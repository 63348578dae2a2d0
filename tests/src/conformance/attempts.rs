//! Follow-ups belong to attempts: when two attempts of one command meet, only the one
//! holding the lease applies, and `on_failure` follow-ups exist exactly once even when the
//! engine that takes back the last attempt has no handler for the command.

use std::time::Duration;

use orch::WorkerId;
use orch::internal::LeaseToken;
use orch::internal::store::{ClaimParams, Finish, FinishOutcome, InsertCommand};
use orch::prelude::*;
use orch::{ListFilter, When};

use super::{SOON, ledger};
use crate::commands::{EchoCommand, EchoHandler, Failing, FailingHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

fn claim(name: &str) -> ClaimParams {
    ClaimParams {
        worker: WorkerId::new(),
        token: LeaseToken::new(),
        names: vec![name.into()],
        targets: vec!["default".into()],
        limit: 10,
        lease_ttl: Duration::from_secs(30),
        lease_buffer: Duration::from_secs(10),
    }
}

/// A `notice` follow-up of `parent` saying `what`.
fn notice(parent: CommandId, what: &str) -> InsertCommand {
    InsertCommand {
        id: CommandId::new(),
        name: "notice".into(),
        input: format!(r#"{{"what":"{what}"}}"#),
        target: "default".into(),
        when: When::Now,
        timeout: Duration::from_secs(60),
        max_attempts: 1,
        idempotency_key: None,
        parent_id: Some(parent),
    }
}

async fn follow_ups<B: SuiteBackend>(
    orch: &crate::node::Node<B::Tx>,
    parent: CommandId,
) -> Vec<String> {
    orch.list(&ListFilter::new().parent(parent))
        .await
        .expect("list follow-ups")
        .into_iter()
        .map(|r| r.input)
        .collect()
}

/// Two attempts of one command finish in one batch (a reaped lease whose old worker
/// reports late, next to the new attempt): only the attempt holding the lease applies,
/// and only its follow-ups are inserted.
pub async fn follow_ups_belong_to_the_attempt_holding_the_lease<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger()).await;
    let store = h.store().await;
    let store = store.commands();
    let id = orch.push(EchoCommand { n: 7 }).await.expect("push");
    let old = store.claim(&claim("echo")).await.expect("claim old");
    assert_eq!(old.len(), 1);
    h.expire_lease(id).await;
    assert_eq!(orch.reap_now().await.expect("reap"), 1);
    h.make_due(id).await;
    let new = store.claim(&claim("echo")).await.expect("claim new");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].attempt, 2);
    let finish = |lease, what: &str| Finish {
        id,
        lease,
        outcome: FinishOutcome::Succeeded {
            output: format!("\"{what}\""),
        },
        follow_ups: vec![notice(id, what)],
    };
    // Both orders: which attempt comes first in the batch must not matter.
    let applied = store
        .finish(&[finish(old[0].lease, "old"), finish(new[0].lease, "new")])
        .await
        .expect("finish both");
    assert_eq!(applied, [false, true], "only the attempt holding the lease");
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Succeeded);
    assert_eq!(rec.output.as_deref(), Some("\"new\""));
    assert_eq!(
        follow_ups::<B>(&orch, id).await,
        [r#"{"what":"new"}"#],
        "the old attempt's follow-up is not inserted"
    );

    // The same with the attempt holding the lease first, on a second command.
    let id2 = orch.push(EchoCommand { n: 8 }).await.expect("push");
    let old = store.claim(&claim("echo")).await.expect("claim old");
    h.expire_lease(id2).await;
    assert_eq!(orch.reap_now().await.expect("reap"), 1);
    h.make_due(id2).await;
    let new = store.claim(&claim("echo")).await.expect("claim new");
    let finish2 = |lease, what: &str| Finish {
        id: id2,
        ..finish(lease, what)
    };
    let mut first = finish2(new[0].lease, "new");
    first.follow_ups = vec![notice(id2, "new")];
    let mut second = finish2(old[0].lease, "old");
    second.follow_ups = vec![notice(id2, "old")];
    let applied = store.finish(&[first, second]).await.expect("finish both");
    assert_eq!(applied, [true, false]);
    assert_eq!(follow_ups::<B>(&orch, id2).await, [r#"{"what":"new"}"#]);
}

/// The last attempt of a command expires while the only engine that takes it back (the
/// leader here) has no handler for it: its `on_failure` follow-up is not lost. The command
/// waits, pending, for an engine with the handler, which records it dead with the
/// follow-up without running the handler again, and without counting an attempt.
pub async fn on_failure_follow_ups_survive_a_reaper_without_the_handler<B: SuiteBackend>(
    h: &Harness<B>,
) {
    // No handler for `failing` here.
    let bare = h.client().await;
    let id = bare
        .push_with(Failing { fatal: false }, Push::new().retries(0))
        .await
        .expect("push");
    let store = h.store().await;
    let claimed = store
        .commands()
        .claim(&claim("failing"))
        .await
        .expect("claim the only attempt");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].attempt, claimed[0].max_attempts), (1, 1));
    h.expire_lease(id).await;
    assert_eq!(bare.reap_now().await.expect("reap"), 1);
    let rec = bare.get(id).await.expect("get").expect("exists");
    assert_eq!(
        rec.status,
        CommandStatus::Pending,
        "waits for an engine that can compute its on_failure follow-ups"
    );
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::LeaseExpired);

    let ledger = ledger();
    let able = h
        .builder()
        .state(ledger.clone())
        .handler::<Failing, _>(FailingHandler)
        .build()
        .await
        .expect("build");
    let running = h.start(&able);
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    let notices = wait_until(SOON, "the on_failure follow-up", || async {
        let found = follow_ups::<B>(&able, id).await;
        (!found.is_empty()).then_some(found)
    })
    .await;
    running.stop().await;
    assert_eq!(notices, [r#"{"what":"failed:lease_expired"}"#]);
    assert_eq!(rec.attempts, 1, "the finishing claim is not counted");
    assert_eq!(rec.errors.len(), 1, "no second error row");
    assert_eq!(
        rec.last_error
            .as_deref()
            .map(|e| e.contains("lease expired")),
        Some(true),
        "{:?}",
        rec.last_error
    );
}
