//! Many workers, two engines, one database: nothing runs twice, nothing is lost.

use std::time::Duration;

use orch::prelude::*;

use super::ledger;
use crate::commands::{EchoCommand, EchoHandler};
use crate::wait::wait_until;
use crate::{Harness, SuiteBackend};

const COMMANDS: u64 = 10_000;

/// Two engines, each with many concurrent workers, drain 10,000 commands: every one
/// succeeds and runs exactly once.
pub async fn two_engines_ten_thousand_commands_exactly_once<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let engine = || {
        h.builder()
            .state(ledger.clone())
            .handler::<EchoCommand, _>(EchoHandler)
            .concurrency(32)
            .max_claim(50)
            .build()
    };
    let a = engine().await.expect("build a");
    let b = engine().await.expect("build b");
    let pusher = h.client().await;
    let (ra, rb) = (h.start(&a), h.start(&b));
    for chunk in (0..COMMANDS).collect::<Vec<_>>().chunks(1000) {
        pusher
            .push_many(chunk.iter().map(|&n| EchoCommand { n }))
            .await
            .expect("push");
    }
    wait_until(
        Duration::from_secs(240),
        "10,000 commands to succeed",
        || async { (h.count(CommandStatus::Succeeded).await == COMMANDS as i64).then_some(()) },
    )
    .await;
    ra.stop().await;
    rb.stop().await;
    each_ran_once(h, &ledger, COMMANDS).await;
}

/// Asserts that `commands` commands ran, each exactly once by `ledger`, and that none is
/// left pending or running.
pub async fn each_ran_once<B: SuiteBackend>(
    h: &Harness<B>,
    ledger: &crate::commands::Ledger,
    commands: u64,
) {
    let runs = ledger.all_runs();
    assert_eq!(runs.len(), commands as usize, "none lost");
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    assert_eq!(h.count(CommandStatus::Pending).await, 0);
    assert_eq!(h.count(CommandStatus::Running).await, 0);
}
