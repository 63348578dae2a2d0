//! Waiting for a condition with a deadline, instead of sleeping.

use std::future::Future;
use std::time::Duration;

use orch::{CommandId, CommandRecord, CommandStatus};

use crate::{Harness, SuiteBackend};

/// Polls `check` every 20 ms until it returns `Some`, or panics after `deadline` naming
/// `what`.
pub async fn wait_until<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until command `id` has `status`; returns its record. On timeout the panic
/// message shows the record as last seen.
pub async fn wait_for_status<B: SuiteBackend>(
    h: &Harness<B>,
    id: CommandId,
    status: CommandStatus,
    deadline: Duration,
) -> CommandRecord {
    let orch = h.client().await;
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let rec = orch.get(id).await.expect("read command");
        if let Some(rec) = rec.as_ref().filter(|r| r.status == status) {
            return rec.clone();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for command {id} to become {status}; last seen: {rec:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
