//! The second process of the tests that need one, for the sea-orm backend: on the
//! database URL given as its first argument, it does what the second argument says until
//! it is done or killed. Every backend's worker understands these modes:
//! - `hang` (the default): an engine whose `Hang` handler never returns;
//! - `engine`: an engine with the leader tests' leader TTL;
//! - `cron`: the same with a `Tick` handler and a 200 ms cron interval, printing
//!   `worker ID`;
//! - `contend PROBE_DIR`: its share of the lock contention test;
//! - `hold-lock NAME`: takes lock NAME, prints `held TOKEN` and waits to be killed;
//! - `claim-outbox PROBE_DIR`: its share of the outbox claimers test;
//! - `inbox MESSAGE_ID`: its share of the inbox race, printing `ran N`;
//! - `relay-nats STREAM SUBJECT_PREFIX KILL_AFTER`: an engine relaying the outbox to NATS
//!   that SIGKILLs itself right after the broker acked its KILL_AFTER-th message (before
//!   the mark), printing `acked ID` per ack and `killing ID` before the kill.

use std::path::Path;

use orch::prelude::CancellationToken;
use orch_tests::commands::{Hang, HangHandler, Tick, TickHandler};
use orch_tests::conformance::{leader, locks};
use orch_tests::sea::SeaBackend;
use orch_tests::{Harness, SuiteBackend};

const USAGE: &str = "usage: orch-crash-worker DATABASE_URL [hang|engine|cron|contend PROBE_DIR|hold-lock NAME|claim-outbox PROBE_DIR|claim-commands PROBE_DIR|inbox MESSAGE_ID|relay-nats STREAM SUBJECT_PREFIX KILL_AFTER]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(USAGE)?;
    // The database belongs to the test that started this process: never dropped here.
    let h = Harness::new(SeaBackend::attach(&url, ""));
    match args.next().as_deref().unwrap_or("hang") {
        "hang" => {
            let node = h
                .builder()
                .handler::<Hang, _>(HangHandler { hang: true })
                .build()
                .await?;
            node.run(CancellationToken::new()).await?;
        }
        "engine" => {
            let node = h
                .builder()
                .configure(|c| c.leader_ttl = leader::TEST_LEADER_TTL)
                .build()
                .await?;
            node.run(CancellationToken::new()).await?;
        }
        "cron" => {
            let node = h
                .builder()
                .handler::<Tick, _>(TickHandler)
                .configure(|c| {
                    c.leader_ttl = leader::TEST_LEADER_TTL;
                    c.cron_interval = std::time::Duration::from_millis(200);
                })
                .build()
                .await?;
            #[allow(clippy::print_stdout, reason = "the parent reads this line")]
            {
                println!("worker {}", node.worker_id());
            }
            node.run(CancellationToken::new()).await?;
        }
        "contend" => {
            let probe = args.next().ok_or(USAGE)?;
            locks::contend(&h, Path::new(&probe)).await;
        }
        "claim-outbox" => {
            let probe = args.next().ok_or(USAGE)?;
            orch_tests::sea::outbox::claim_all(h.backend(), Path::new(&probe), "there").await;
        }
        "claim-commands" => {
            let probe = args.next().ok_or(USAGE)?;
            orch_tests::conformance::work_queue::claim_commands(&h, Path::new(&probe), "there")
                .await;
        }
        "inbox" => {
            let message_id = args.next().ok_or(USAGE)?;
            let ran = orch_tests::sea::inbox::deliver_many(h.backend(), &message_id).await;
            #[allow(clippy::print_stdout, reason = "the parent reads this line")]
            {
                println!("ran {ran}");
            }
        }
        "hold-lock" => {
            let name = args.next().ok_or(USAGE)?;
            locks::hold_until_killed(&h, &name).await;
        }
        "relay-nats" => {
            let stream = args.next().ok_or(USAGE)?;
            let prefix = args.next().ok_or(USAGE)?;
            let kill_after = args.next().ok_or(USAGE)?.parse()?;
            orch_tests::brokers::nats::relay_until_killed(
                h.backend(),
                &stream,
                &prefix,
                kill_after,
            )
            .await;
        }
        other => return Err(format!("unknown mode {other:?}; {USAGE}").into()),
    }
    let _ = h.backend().name();
    Ok(())
}
