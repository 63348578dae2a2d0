//! Nothing runs forever, and no user callback takes the engine down.

use std::time::Duration;

use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{
    BadChain, BadChainHandler, EchoCommand, EchoHandler, SelfCancel, SelfCancelHandler,
    ThreadBlocker, ThreadBlockerHandler,
};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// A handler that blocks its thread past its timeout is recorded `timed_out` by the
/// heartbeat within timeout + grace (`lease_buffer`) + one heartbeat, long before it
/// returns; what it returns later changes nothing.
pub async fn blocking_handler_is_recorded_timed_out<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<ThreadBlocker, _>(ThreadBlockerHandler)
        .configure(|c| {
            c.heartbeat_interval = Duration::from_millis(100);
            c.lease_buffer = Duration::from_millis(300);
            c.lease_ttl = Duration::from_secs(2);
        })
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch.push(ThreadBlocker { ms: 4_000 }).await.expect("push");
    wait_until(SOON, "the blocker to start", || async {
        ledger.saw("blocker:start").then_some(())
    })
    .await;
    let started = tokio::time::Instant::now();
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    assert!(
        !ledger.saw("blocker:returned"),
        "recorded before the handler returned"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::TimedOut);
    wait_until(SOON, "the blocker to return", || async {
        ledger.saw("blocker:returned").then_some(())
    })
    .await;
    running.stop().await;
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(
        rec.status,
        CommandStatus::Dead,
        "its late return changed nothing"
    );
    assert_eq!(rec.errors.len(), 1);
}

/// A handler that cancels its own token has its result recorded like any other.
pub async fn self_cancelled_handler_is_recorded<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .engine::<SelfCancel, _>(SelfCancelHandler, &ledger())
        .await;
    let running = h.start(&orch);
    let id = orch.push(SelfCancel { n: 7 }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.output_as::<u64>().expect("output"), 7);
    assert_eq!(rec.attempts, 1);
}

/// `Chain` callbacks that panic neither lose the command's outcome nor stop the engine:
/// the failed command is recorded dead, a cancel still cancels, later commands still run.
pub async fn panicking_callbacks_do_not_stop_the_engine<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<BadChain, _>(BadChainHandler)
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    let pending = orch
        .push(BadChain {
            label: "pending".into(),
        })
        .await
        .expect("push");
    assert_eq!(
        orch.cancel(pending).await.expect("cancel"),
        CancelOutcome::CanceledPending
    );
    let running = h.start(&orch);
    let failing = orch
        .push(BadChain {
            label: "failing".into(),
        })
        .await
        .expect("push");
    let rec = wait_for_status(h, failing, CommandStatus::Dead, SOON).await;
    assert_eq!(rec.errors[0].kind, FailureKind::Fatal);
    let echo = orch.push(EchoCommand { n: 5 }).await.expect("push");
    wait_for_status(h, echo, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
}
