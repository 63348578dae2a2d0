//! Leases: recovery of expired ones, fencing of stale workers, heartbeats.

use std::time::Duration;

use orch::WorkerId;
use orch::internal::LeaseToken;
use orch::internal::store::{ClaimParams, Finish, FinishOutcome};
use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{Blocker, BlockerHandler, EchoCommand, EchoHandler, Slow, SlowHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// Claim parameters for up to `limit` `echo` commands under a fresh lease token.
pub fn claim_params(limit: u32) -> ClaimParams {
    ClaimParams {
        worker: WorkerId::new(),
        token: LeaseToken::new(),
        names: vec!["echo".into()],
        targets: vec!["default".into()],
        limit,
        lease_ttl: Duration::from_secs(30),
        lease_buffer: Duration::from_secs(10),
    }
}

/// The success of the attempt holding `lease`, with `output`.
pub fn success(id: CommandId, lease: LeaseToken, output: &str) -> Finish {
    Finish {
        id,
        lease,
        outcome: FinishOutcome::Succeeded {
            output: output.into(),
        },
        follow_ups: Vec::new(),
    }
}

/// A command held by a worker that died is recovered by the reaper once its lease expires
/// (time moved in SQL), with a `lease_expired` error, and then runs.
pub async fn reaper_recovers_expired_lease<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let id = orch.push(EchoCommand { n: 1 }).await.expect("push");
    let store = h.store().await;
    let claimed = store
        .commands()
        .claim(&claim_params(10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the crashed worker held it");
    assert_eq!(orch.reap_now().await.expect("reap"), 0, "lease still valid");
    h.expire_lease(id).await;
    assert_eq!(orch.reap_now().await.expect("reap"), 1);
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Pending);
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::LeaseExpired);
    assert_eq!(orch.reap_now().await.expect("reap"), 0, "once only");
    let running = h.start(&orch);
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 2);
    assert_eq!(ledger.runs("1"), 1);
}

/// A worker whose lease was taken over cannot complete: its write changes nothing, and the
/// new holder's result stands.
pub async fn stale_completion_is_rejected<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .engine::<EchoCommand, _>(EchoHandler, &super::ledger())
        .await;
    let store = h.store().await;
    let store = store.commands();
    let id = orch.push(EchoCommand { n: 1 }).await.expect("push");
    let a = store.claim(&claim_params(1)).await.expect("claim a");
    assert_eq!(a.len(), 1);
    h.expire_lease(id).await;
    assert_eq!(orch.reap_now().await.expect("reap"), 1);
    h.make_due(id).await;
    let b = store.claim(&claim_params(1)).await.expect("claim b");
    assert_eq!(b.len(), 1);
    assert_ne!(a[0].lease, b[0].lease);
    assert_eq!(b[0].attempt, 2);
    let stale = store
        .finish(&[success(id, a[0].lease, "111")])
        .await
        .expect("finish a");
    assert_eq!(stale, [false], "the stale worker is told it lost the lease");
    let renew = store
        .renew_leases(&[orch::internal::store::LeaseRenewal {
            id,
            lease: a[0].lease,
            extend_by: Some(Duration::from_secs(60)),
        }])
        .await
        .expect("renew a");
    assert_eq!(renew, [false], "nor can it renew");
    let fresh = store
        .finish(&[success(id, b[0].lease, "222")])
        .await
        .expect("finish b");
    assert_eq!(fresh, [true]);
    let again = store
        .finish(&[success(id, b[0].lease, "333")])
        .await
        .expect("finish b twice");
    assert_eq!(again, [false], "a finished command cannot finish twice");
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Succeeded);
    assert_eq!(rec.output.as_deref(), Some("222"));
}

/// A command running longer than its lease keeps it by heartbeat and is not reaped.
pub async fn heartbeat_keeps_long_commands<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Slow, _>(SlowHandler)
        .configure(|c| {
            // Leases of 2.1 s renewed every 200 ms once under 1 s remain: only a stall of
            // about a second (a loaded CI machine) could lose one.
            c.lease_ttl = Duration::from_secs(2);
            c.lease_buffer = Duration::from_millis(100);
            c.heartbeat_interval = Duration::from_millis(200);
            c.reaper_interval = Duration::from_millis(200);
        })
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch.push(Slow { ms: 5_000 }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 1, "never reaped");
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    assert_eq!(ledger.runs("slow"), 1);
}

/// When another process takes a command over, the heartbeat fires the old handler's token.
pub async fn lease_lost_stops_the_handler<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Blocker, _>(BlockerHandler)
        .configure(|c| {
            c.heartbeat_interval = Duration::from_millis(100);
            c.reaper_interval = Duration::from_secs(3600);
        })
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch
        .push(Blocker {
            label: "held".into(),
        })
        .await
        .expect("push");
    wait_until(SOON, "the blocker to start", || async {
        ledger.saw("held:start").then_some(())
    })
    .await;
    // Another process reaps it after the lease "expired".
    h.expire_lease(id).await;
    let other = h.builder().build().await.expect("build other");
    if other.reap_now().await.expect("reap") == 0 {
        // The engine's own reaper passes once as it starts; under load that pass can come
        // after the expiry and take the command over first, which serves as well.
        let rec = orch.get(id).await.expect("get").expect("exists");
        assert!(
            rec.errors
                .iter()
                .any(|e| e.kind == FailureKind::LeaseExpired),
            "nobody reaped the expired lease: {rec:?}"
        );
    }
    wait_until(SOON, "the old handler to see its token", || async {
        ledger.saw("held:cancelled").then_some(())
    })
    .await;
    orch.cancel(id).await.expect("cancel");
    running.stop().await;
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Canceled);
    assert_eq!(rec.errors[0].kind, FailureKind::LeaseExpired);
}
