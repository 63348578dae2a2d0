//! A MariaDB server whose `max_allowed_packet` is small (1 MiB): the store reads it when it
//! is built and bounds its statements by half of it, so many large inputs (`push_many`) and
//! many large outputs (the completer's finishes) are split into statements the server
//! takes.
//!
//! The packet size is a global setting of the server: run this only from a test binary of
//! its own (cargo runs test binaries one after another), never beside other tests on the
//! same server.

use std::time::Duration;

use orch::prelude::*;
use sea_orm::{ConnectionTrait, Database, Statement};

use super::SeaBackend;
use crate::backends::server_url;
use crate::conformance::SOON;
use crate::wait::wait_for_status;
use crate::{BackendKind, Harness};

/// The packet size set for the test.
const SMALL_PACKET: u64 = 1024 * 1024;

/// Returns the `output_bytes` bytes of `x` its [`PadHandler`] produces.
#[orch_command(retries = 0, output = String)]
#[derive(Serialize, Deserialize)]
pub struct Pad {
    /// The output's size in bytes.
    pub output_bytes: usize,
    /// Anything, for a payload of some size.
    pub filler: String,
}

/// Runs [`Pad`].
pub struct PadHandler;

impl Handler<Pad> for PadHandler {
    async fn run(&self, cmd: Pad, _ctx: &Ctx) -> Result<String, HandlerError> {
        Ok("x".repeat(cmd.output_bytes))
    }
}

/// Sets the server's global `max_allowed_packet` while alive; restores the old value when
/// dropped, on a panic too.
struct PacketSize {
    url: String,
    old: u64,
}

impl PacketSize {
    async fn set(bytes: u64) -> Self {
        let url = server_url(BackendKind::MySql);
        let db = Database::connect(&url).await.expect("connect to MariaDB");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT @@GLOBAL.max_allowed_packet",
            ))
            .await
            .expect("read max_allowed_packet")
            .expect("a row");
        let old: u64 = row.try_get_by_index(0).expect("packet size");
        db.execute_unprepared(&format!("SET GLOBAL max_allowed_packet = {bytes}"))
            .await
            .expect("set max_allowed_packet");
        let _ = db.close().await;
        Self { url, old }
    }
}

impl Drop for PacketSize {
    fn drop(&mut self) {
        let (url, old) = (self.url.clone(), self.old);
        // Drop cannot await, and may run inside the test's runtime: restore from a thread
        // with a runtime of its own.
        let restored = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let db = Database::connect(&url).await?;
                db.execute_unprepared(&format!("SET GLOBAL max_allowed_packet = {old}"))
                    .await?;
                db.close().await
            })
        })
        .join();
        if !matches!(restored, Ok(Ok(()))) {
            eprintln!("could not restore max_allowed_packet = {old}: {restored:?}");
        }
    }
}

/// With a 1 MiB packet: the store's statement bound is 512 KiB; `push_many` of 40
/// commands of about 200 KiB each (8 MiB in all) is stored whole (in 4 MiB statements the
/// server resets the connection and the push fails); 10 commands with outputs of 300 KiB
/// each all succeed with their outputs intact, their finishes split by the bound. (With a
/// 4 MiB bound those finishes still get through, later: the server refuses or resets the
/// oversized batches, and the completer's retries and the isolating writer's halving end
/// up writing them in pieces; hence the bound itself is asserted too.) A single payload or
/// output larger than the packet is refused before SQL: the push with
/// `PayloadTooLarge`, the output as a `refused` attempt, the results beside it written.
pub async fn small_packet_bounds_statements(h: &Harness<SeaBackend>) {
    assert_eq!(h.backend().kind(), BackendKind::MySql, "a MariaDB test");
    let _packet = PacketSize::set(SMALL_PACKET).await;
    // Built after the change: every connection of its pool sees the small packet.
    let store = h.store().await;
    assert_eq!(store.max_statement_bytes(), 512 * 1024);
    let node = h
        .builder()
        .handler::<Pad, _>(PadHandler)
        .concurrency(16)
        // Limits above the packet, so the packet is what refuses.
        .configure(|c| {
            c.max_output_bytes = 4 * 1024 * 1024;
            c.max_payload_bytes = 4 * 1024 * 1024;
        })
        .build()
        .await
        .expect("build");

    let inputs: Vec<Pad> = (0..40)
        .map(|i| Pad {
            output_bytes: 0,
            filler: format!("{i:02}{}", "i".repeat(200 * 1024)),
        })
        .collect();
    let stored = node.push_many(inputs).await.expect("push_many is stored");
    assert_eq!(stored.len(), 40);
    for (i, id) in stored.iter().enumerate() {
        let record = node.get(*id).await.expect("read").expect("stored");
        let pad: Pad = serde_json::from_str(&record.input).expect("input");
        assert!(pad.filler.starts_with(&format!("{i:02}")));
        assert_eq!(pad.filler.len(), 200 * 1024 + 2, "input intact");
        // Not run: only the outputs below are under test.
        node.cancel(*id).await.expect("cancel");
    }

    let outputs = node
        .push_many((0..10).map(|i| Pad {
            output_bytes: 300 * 1024 + i,
            filler: String::new(),
        }))
        .await
        .expect("push");
    let running = h.start(&node);
    for (i, id) in outputs.iter().enumerate() {
        let record = wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
        let output: String =
            serde_json::from_str(record.output.as_deref().expect("output")).expect("json");
        assert_eq!(output.len(), 300 * 1024 + i, "output intact");
        assert_eq!(record.attempts, 1, "written the first time");
        assert!(record.errors.is_empty(), "{:?}", record.errors);
    }

    // One value larger than the packet: a push is refused before SQL with the limit named;
    // an output is recorded `refused` at once (sent, it would fail as a reset connection
    // and be retried), and the results beside it are written as usual.
    let error = node
        .push(Pad {
            output_bytes: 0,
            filler: "p".repeat(1200 * 1024),
        })
        .await
        .expect_err("a payload over the packet is refused");
    assert!(
        matches!(error, orch::Error::PayloadTooLarge { .. })
            && error.to_string().contains("max_allowed_packet"),
        "{error}"
    );
    let mixed = node
        .push_many((0..6).map(|i| Pad {
            output_bytes: if i == 3 { 3000 * 1024 } else { 100 + i },
            filler: String::new(),
        }))
        .await
        .expect("push");
    for (i, id) in mixed.iter().enumerate() {
        if i == 3 {
            let record = wait_for_status(h, *id, CommandStatus::Dead, SOON).await;
            assert_eq!(record.attempts, 1);
            assert_eq!(record.errors.len(), 1, "{:?}", record.errors);
            assert_eq!(record.errors[0].kind, FailureKind::Refused);
            assert!(
                record.errors[0].message.contains("max_allowed_packet"),
                "{}",
                record.errors[0].message
            );
        } else {
            wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
        }
    }
    tokio::time::timeout(Duration::from_secs(30), running.stop())
        .await
        .expect("engine stops");
}
