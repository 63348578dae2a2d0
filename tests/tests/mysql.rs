//! The conformance suite against MySql.

use orch_tests::BackendKind;

orch_tests::conformance_suite!(BackendKind::MySql);
orch_tests::server_suite!(BackendKind::MySql);
