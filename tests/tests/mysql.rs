//! The conformance suite against MySql.

use orch_tests::BackendKind;
use orch_tests::sea::SeaBackend;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

orch_tests::conformance_suite!(SeaBackend::create(BackendKind::MySql, WORKER));
orch_tests::sea_suite!(SeaBackend::create(BackendKind::MySql, WORKER));
orch_tests::server_suite!(SeaBackend::create(BackendKind::MySql, WORKER));
