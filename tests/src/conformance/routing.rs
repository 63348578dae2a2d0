//! Routing by target (instance key), and commands no engine serves.

use orch::Push;
use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{EchoCommand, EchoHandler, EngineLabel, Orphan, WhoRuns, WhoRunsHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// Commands run only on engines serving their target.
pub async fn targets_route_commands<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let engine = |key: &'static str| {
        h.builder()
            .instance_key(key)
            .state(ledger.clone())
            .state(EngineLabel(key))
            .handler::<WhoRuns, _>(WhoRunsHandler)
            .build()
    };
    let a = engine("a").await.expect("build a");
    let b = engine("b").await.expect("build b");
    let (ra, rb) = (h.start(&a), h.start(&b));
    let mut ids = Vec::new();
    for i in 0..10 {
        let target = if i % 2 == 0 { "a" } else { "b" };
        ids.push(
            a.push_with(
                WhoRuns {
                    key: format!("k{i}"),
                },
                Push::new().target(target),
            )
            .await
            .expect("push"),
        );
    }
    let default_routed = a.push(WhoRuns { key: "own".into() }).await.expect("push");
    for id in ids.iter().chain([&default_routed]) {
        wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
    }
    ra.stop().await;
    rb.stop().await;
    for i in 0..10 {
        let target = if i % 2 == 0 { "a" } else { "b" };
        assert_eq!(
            ledger.runs(&format!("k{i}@{target}")),
            1,
            "k{i} ran on {target}"
        );
    }
    assert_eq!(
        ledger.runs("own@a"),
        1,
        "the pushing engine's key is the default target"
    );
    let rec = a.get(ids[1]).await.expect("get").expect("exists");
    assert_eq!(rec.target, "b");
}

/// A command whose name no running engine serves stays pending and visible.
pub async fn unknown_names_stay_pending<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let orphan = orch.push(Orphan { n: 1 }).await.expect("push orphan");
    let running = h.start(&orch);
    let marker = orch.push(EchoCommand { n: 1 }).await.expect("push");
    wait_for_status(h, marker, CommandStatus::Succeeded, SOON).await;
    // Give the engine several more polls to (wrongly) pick the orphan up.
    let polls_done = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
    wait_until(SOON, "a few polls", || async {
        (tokio::time::Instant::now() > polls_done).then_some(())
    })
    .await;
    running.stop().await;
    let rec = orch.get(orphan).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Pending);
    assert_eq!(rec.attempts, 0);
    assert_eq!(rec.name, "orphan");
}
