//! Pushing and reading commands.

use std::time::Duration;

use orch::prelude::*;
use orch::{ListFilter, Push};

use super::{SOON, ledger};
use crate::commands::{EchoCommand, EchoHandler};
use crate::wait::wait_for_status;
use crate::{Harness, SuiteBackend};

/// A pushed command is pending with its name, target, timeout and attempt budget.
pub async fn push_and_get<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let id = orch.push(EchoCommand { n: 7 }).await.expect("push");
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Pending);
    assert_eq!(rec.name, "echo");
    assert_eq!(rec.target, "default");
    assert_eq!(rec.attempts, 0);
    assert_eq!(rec.max_attempts, 3, "retries = 2 means three attempts");
    assert_eq!(rec.timeout, orch::config::DEFAULT_TIMEOUT);
    assert_eq!(rec.input, r#"{"n":7}"#);
    assert!(rec.output.is_none() && rec.errors.is_empty());
    assert!(orch.get(CommandId::new()).await.expect("get").is_none());
}

/// The engine runs a command and stores its typed output.
pub async fn run_and_read_output<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let running = h.start(&orch);
    let id = orch.push(EchoCommand { n: 41 }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    assert_eq!(rec.output_as::<u64>().expect("output"), 41);
    assert_eq!(rec.attempts, 1);
    assert!(rec.finished_at.is_some() && rec.started_at.is_some());
    assert_eq!(ledger.runs("41"), 1);
    running.stop().await;
}

/// `push_many` inserts every command; all run.
pub async fn push_many_in_one_batch<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let ids = orch
        .push_many((0..2500).map(|n| EchoCommand { n }))
        .await
        .expect("push many");
    assert_eq!(ids.len(), 2500);
    let running = h.start(&orch);
    crate::wait_until(SOON, "2500 commands to succeed", || async {
        let done = orch
            .list(
                &ListFilter::new()
                    .status(CommandStatus::Succeeded)
                    .limit(10_000),
            )
            .await
            .expect("list");
        (done.len() == 2500).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(ledger.all_runs().len(), 2500);
    assert!(ledger.all_runs().values().all(|n| *n == 1));
}

/// A second push with the same idempotency key returns the first id and inserts nothing.
pub async fn idempotency_key_dedups<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let key = Push::new().idempotency_key("order-42");
    let a = orch
        .push_with(EchoCommand { n: 1 }, key.clone())
        .await
        .expect("push");
    let b = orch
        .push_with(EchoCommand { n: 2 }, key)
        .await
        .expect("push again");
    assert_eq!(a, b);
    let all = orch.list(&ListFilter::new()).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].input, r#"{"n":1}"#);
    let c = orch
        .push_with(
            EchoCommand { n: 3 },
            Push::new().idempotency_key("order-43"),
        )
        .await
        .expect("push other key");
    assert_ne!(a, c);
}

/// A command with a later run time is not claimed until the database's clock reaches it.
pub async fn scheduled_command_waits_for_its_time<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let later = orch
        .push_with(
            EchoCommand { n: 1 },
            Push::new().delay(Duration::from_secs(3600)),
        )
        .await
        .expect("push later");
    let now = orch.push(EchoCommand { n: 2 }).await.expect("push now");
    let running = h.start(&orch);
    wait_for_status(h, now, CommandStatus::Succeeded, SOON).await;
    let rec = orch.get(later).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Pending, "not due for an hour");
    h.make_due(later).await;
    wait_for_status(h, later, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
}

/// `run_at` compares with the database's clock: an absolute time an hour ahead of the
/// database is not due, one in the past is.
pub async fn database_clock_decides<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let db_now = orch.database_now().await.expect("db now");
    let drift = (chrono::Utc::now() - db_now).num_seconds().abs();
    assert!(
        drift < 60,
        "test machine clock and database clock differ by {drift}s"
    );
    let future = orch
        .push_with(
            EchoCommand { n: 1 },
            Push::new().run_at(db_now + chrono::Duration::hours(1)),
        )
        .await
        .expect("push");
    let past = orch
        .push_with(
            EchoCommand { n: 2 },
            Push::new().run_at(db_now - chrono::Duration::hours(1)),
        )
        .await
        .expect("push");
    let f = orch.get(future).await.expect("get").expect("exists");
    let p = orch.get(past).await.expect("get").expect("exists");
    assert!(f.run_at > db_now && p.run_at < db_now);
    let ledger = ledger();
    let worker = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let running = h.start(&worker);
    wait_for_status(h, past, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(
        orch.get(future).await.expect("get").expect("exists").status,
        CommandStatus::Pending
    );
}
