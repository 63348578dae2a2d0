//! The conformance suite against Postgres.

use orch_tests::BackendKind;

orch_tests::conformance_suite!(BackendKind::Postgres);
