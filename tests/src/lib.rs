//! # orch-tests
//!
//! The conformance suite: every behaviour of the engine and its storage, written once as a
//! generic `async fn(&Harness<B>)` over a [`SuiteBackend`] and stamped into one
//! `#[tokio::test]` per backend by [`conformance_suite!`]. The suite sees only the storage
//! seam and the backend's helpers (a fresh database, a clock to move, a second process), so
//! a new backend runs it unchanged by implementing [`SuiteBackend`]; [`sea::SeaBackend`] is
//! orch-sea's, on SQLite, PostgreSQL and MariaDB, with [`sea_suite!`] for what only it has.
//!
//! Each test gets a fresh database (a new SQLite file, a new PostgreSQL or MariaDB
//! database named with a uuid) and waits by polling a condition with a deadline, never by
//! bare sleeps. Server URLs come from `ORCH_TEST_POSTGRES_URL` and `ORCH_TEST_MYSQL_URL`
//! (defaults: the local servers on 127.0.0.1). A server that cannot be reached fails its
//! tests: nothing is skipped silently.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support code: a failed expectation is a failed test"
)]

mod backend;
pub mod backends;
pub mod brokers;
pub mod commands;
pub mod conformance;
mod harness;
mod node;
pub mod proxy;
pub mod sea;
pub mod soak;
mod wait;

use std::future::Future;

pub use backend::SuiteBackend;
pub use backends::BackendKind;
pub use harness::{Harness, Running};
pub use node::{Node, NodeBuilder};
pub use wait::{wait_for_status, wait_until};

/// Runs one test body against the backend `make` creates, then cleans it up.
pub async fn run<B, F>(make: impl Future<Output = B>, test: F)
where
    B: SuiteBackend,
    F: for<'a> FnOnce(&'a Harness<B>) -> futures::future::BoxFuture<'a, ()>,
{
    init_tracing();
    let harness = Harness::new(make.await);
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
