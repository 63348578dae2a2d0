//! MariaDB with a small `max_allowed_packet` (see `orch_tests::sea::packet`). The packet
//! size is a global setting of the server, so this binary holds this one test alone: cargo
//! runs test binaries one after another, and no other test of this run sees the change.
//! Do not run it beside other tests on the same server.

use orch_tests::BackendKind;
use orch_tests::sea::{SeaBackend, packet};

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_packet_bounds_statements() {
    orch_tests::run(SeaBackend::create(BackendKind::MySql, WORKER), |h| {
        Box::pin(packet::small_packet_bounds_statements(h))
    })
    .await;
}
