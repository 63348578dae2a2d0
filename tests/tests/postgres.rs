//! The conformance suite against Postgres.

use orch_tests::BackendKind;
use orch_tests::sea::SeaBackend;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

orch_tests::conformance_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));
orch_tests::sea_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));
orch_tests::server_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));

/// The chaos soak at the suite's size (see `orch_tests::soak`), then again with claims taking
/// turns (`SeaStoreConfig::serialize_claims`). One after the other, not as two tests the
/// harness may run at once: in one CI run the two ran together on one server and four of
/// one soak's attempts ran past their 10 s timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak() {
    let soak = env!("CARGO_BIN_EXE_orch-soak");
    orch_tests::soak::small_soak_passes(BackendKind::Postgres, soak).await;
    orch_tests::soak::small_soak_taking_turns_passes(BackendKind::Postgres, soak).await;
}
