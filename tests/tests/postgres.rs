//! The conformance suite against Postgres.

use orch_tests::BackendKind;

orch_tests::conformance_suite!(BackendKind::Postgres);
orch_tests::server_suite!(BackendKind::Postgres);
