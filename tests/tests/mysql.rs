//! The conformance suite against MySql.

use orch_tests::BackendKind;

orch_tests::conformance_suite!(BackendKind::MySql);
