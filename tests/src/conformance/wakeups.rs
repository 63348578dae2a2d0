//! Wake-ups from elsewhere: a command pushed through another handle (another process, as
//! far as the engine can tell: another pool, no shared memory) starts without waiting for
//! the engine's poll, on every backend (PostgreSQL `NOTIFY`, SQLite and MySQL/MariaDB the
//! store's wake probe).

use std::time::Duration;

use orch::prelude::*;

use super::ledger;
use crate::commands::{EchoCommand, EchoHandler};
use crate::wait::wait_for_status;
use crate::{Harness, SuiteBackend};

/// An idle engine polling once a minute runs a command pushed through another handle
/// within seconds.
pub async fn push_from_elsewhere_starts_without_waiting_for_a_poll<B: SuiteBackend>(
    h: &Harness<B>,
) {
    let ledger = ledger();
    let engine = h
        .builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .configure(|c| c.poll_interval = Duration::from_secs(60))
        .build()
        .await
        .expect("build");
    let running = h.start(&engine);
    // Let the engine's first claims find nothing, so it sleeps until woken or polled.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elsewhere = h.client().await;
    for n in 0..3 {
        let id = elsewhere.push(EchoCommand { n }).await.expect("push");
        // Well inside the minute the engine would otherwise sleep.
        wait_for_status(h, id, CommandStatus::Succeeded, Duration::from_secs(15)).await;
    }
    running.stop().await;
    assert_eq!(ledger.runs("2"), 1);
}
