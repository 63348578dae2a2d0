//! Failed attempts: retry with backoff, dead when exhausted, timeouts and panics.

use orch::ListFilter;
use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{
    EchoCommand, EchoHandler, Failing, FailingHandler, Flaky, FlakyHandler, Notice, Panicky,
    PanickyHandler, Sleepy, SleepyHandler,
};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// A command that fails once succeeds on its second attempt; the failure is recorded.
pub async fn fails_once_then_succeeds<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.engine::<Flaky, _>(FlakyHandler, &super::ledger()).await;
    let running = h.start(&orch);
    let id = orch.push(Flaky { fail_times: 1 }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 2);
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].attempt, 1);
    assert_eq!(rec.errors[0].kind, FailureKind::Error);
    assert!(rec.errors[0].message.contains("flaky failure on attempt 1"));
}

/// With retries exhausted the command is dead, keeps every error, and its `on_failure`
/// follow-up exists once.
pub async fn exhausted_retries_end_dead_with_errors<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .engine::<Failing, _>(FailingHandler, &super::ledger())
        .await;
    let running = h.start(&orch);
    let id = orch.push(Failing { fatal: false }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 3, "retries = 2: three attempts");
    let attempts: Vec<u32> = rec.errors.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(rec.last_error.as_deref(), Some("not yet"));
    let children = orch
        .list(&ListFilter::new().parent(id))
        .await
        .expect("list");
    assert_eq!(children.len(), 1, "one on_failure follow-up");
    assert_eq!(children[0].name, Notice::NAME);
    assert_eq!(children[0].input, r#"{"what":"failed:error"}"#);
}

/// A fatal error ends the command after one attempt.
pub async fn fatal_error_is_not_retried<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .engine::<Failing, _>(FailingHandler, &super::ledger())
        .await;
    let running = h.start(&orch);
    let id = orch.push(Failing { fatal: true }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::Fatal);
}

/// An attempt past its timeout is stopped (its token fires) and recorded as `timed_out`.
pub async fn timeout_is_a_failed_attempt<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<Sleepy, _>(SleepyHandler, &ledger).await;
    let running = h.start(&orch);
    let id = orch.push(Sleepy { ms: 10_000 }).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.errors[0].kind, FailureKind::TimedOut);
    assert!(ledger.saw("sleepy:start"));
    assert!(!ledger.saw("sleepy:done"));
}

/// A panicking handler is a failed attempt; the engine keeps running other commands.
pub async fn panic_is_a_failed_attempt<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Panicky, _>(PanickyHandler)
        .handler::<EchoCommand, _>(EchoHandler)
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch.push(Panicky).await.expect("push");
    let rec = wait_for_status(h, id, CommandStatus::Dead, SOON).await;
    assert_eq!(rec.errors[0].kind, FailureKind::Panicked);
    assert!(rec.errors[0].message.contains("boom in handler"));
    let after = orch.push(EchoCommand { n: 5 }).await.expect("push");
    wait_for_status(h, after, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    wait_until(SOON, "ledger", || async {
        (ledger.runs("5") == 1).then_some(())
    })
    .await;
}

/// A command's own backoff policy overrides the global one: after its first failure it is
/// due again an hour later (by the database clock), not in milliseconds.
pub async fn backoff_is_per_command<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .builder()
        .handler::<Flaky, _>(FlakyHandler)
        .retry_policy_for::<Flaky>(
            orch::RetryPolicy::new()
                .base(std::time::Duration::from_secs(3600))
                .jitter(0.0),
        )
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let id = orch.push(Flaky { fail_times: 1 }).await.expect("push");
    let rec = wait_until(SOON, "the first failure", || async {
        orch.get(id)
            .await
            .expect("get")
            .filter(|r| r.errors.len() == 1 && r.status == CommandStatus::Pending)
    })
    .await;
    running.stop().await;
    let now = orch.database_now().await.expect("db now");
    let wait = rec.run_at - now;
    assert!(
        wait > chrono::Duration::minutes(55),
        "next attempt in {wait}, expected about an hour"
    );
}
