//! Graceful shutdown.

use std::time::Duration;

use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{Blocker, BlockerHandler};
use crate::wait::wait_until;
use crate::{Harness, SuiteBackend};

/// At shutdown, handlers still running after the grace period see their token fire and
/// their commands go back to pending without using up an attempt.
pub async fn shutdown_releases_running_commands<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Blocker, _>(BlockerHandler)
        .configure(|c| c.shutdown_grace = Duration::from_millis(200))
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch
        .push(Blocker { label: "s".into() })
        .await
        .expect("push");
    wait_until(SOON, "the blocker to start", || async {
        ledger.saw("s:start").then_some(())
    })
    .await;
    running.stop().await;
    assert!(ledger.saw("s:cancelled"), "the handler was told");
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Pending);
    assert_eq!(rec.attempts, 0, "the interrupted attempt is not counted");
    assert!(rec.errors.is_empty());
}
