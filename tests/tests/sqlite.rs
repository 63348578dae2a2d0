//! The conformance suite against Sqlite.

use orch_tests::BackendKind;
use orch_tests::sea::SeaBackend;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

orch_tests::conformance_suite!(SeaBackend::create(BackendKind::Sqlite, WORKER));
orch_tests::sea_suite!(SeaBackend::create(BackendKind::Sqlite, WORKER));
