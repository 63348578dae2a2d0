//! The conformance suite against Sqlite.

use orch_tests::BackendKind;

orch_tests::conformance_suite!(BackendKind::Sqlite);
