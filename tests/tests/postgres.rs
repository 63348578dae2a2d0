//! The conformance suite against Postgres.

use orch_tests::BackendKind;
use orch_tests::sea::SeaBackend;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

orch_tests::conformance_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));
orch_tests::sea_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));
orch_tests::server_suite!(SeaBackend::create(BackendKind::Postgres, WORKER));
