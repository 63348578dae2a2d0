//! # orch-tests
//!
//! The conformance suite: every behaviour of the engine and its storage, written once as a
//! generic `async fn(&Harness)` and stamped into one `#[tokio::test]` per backend by
//! [`conformance_suite!`]. Each test gets a fresh database (a new SQLite file, a new
//! PostgreSQL or MariaDB database named with a uuid) and waits by polling a condition with
//! a deadline, never by bare sleeps.
//!
//! Server URLs come from `ORCH_TEST_POSTGRES_URL` and `ORCH_TEST_MYSQL_URL` (defaults: the
//! local servers on 127.0.0.1). A server that cannot be reached fails its tests: nothing is
//! skipped silently.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support code: a failed expectation is a failed test"
)]

pub mod backends;
pub mod commands;
pub mod conformance;
mod harness;
mod wait;

pub use backends::BackendKind;
pub use harness::Harness;
pub use wait::{wait_for_status, wait_until};

/// Runs one conformance test body against a fresh database of `kind`, then drops it.
/// `worker_bin` is the crash-test worker executable (`CARGO_BIN_EXE_orch-crash-worker`).
pub async fn run<F>(kind: BackendKind, worker_bin: &'static str, test: F)
where
    F: for<'a> FnOnce(&'a Harness) -> futures::future::BoxFuture<'a, ()>,
{
    init_tracing();
    let harness = Harness::new(kind, worker_bin).await;
    test(&harness).await;
    harness.cleanup().await;
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORCH_TEST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
}
