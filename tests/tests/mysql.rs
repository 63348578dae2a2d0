//! The conformance suite against MySql.

use orch_tests::BackendKind;
use orch_tests::sea::SeaBackend;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

orch_tests::conformance_suite!(SeaBackend::create(BackendKind::MySql, WORKER));
orch_tests::sea_suite!(SeaBackend::create(BackendKind::MySql, WORKER));
orch_tests::server_suite!(SeaBackend::create(BackendKind::MySql, WORKER));

/// The chaos soak at the suite's size (see `orch_tests::soak`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak() {
    orch_tests::soak::small_soak_passes(BackendKind::MySql, env!("CARGO_BIN_EXE_orch-soak")).await;
}

/// The chaos soak with claims taking turns (`SeaStoreConfig::serialize_claims`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak_taking_turns() {
    orch_tests::soak::small_soak_taking_turns_passes(
        BackendKind::MySql,
        env!("CARGO_BIN_EXE_orch-soak"),
    )
    .await;
}
