//! The work-queue API on commands: claims fenced by owner and lease, abandon, fail with
//! backoff, reaping an owner that died.

use std::time::Duration;

use orch::CommandStatus;
use orch::outbox::OwnerToken;

use crate::commands::EchoCommand;
use crate::{Harness, SuiteBackend};

/// One owner at a time; an expired owner settles nothing; abandon gives the attempt back;
/// fail counts it and retries after the backoff; a reaped command comes back once; the
/// attempts run out into `dead`.
pub async fn command_queue_fences_owners<B: SuiteBackend>(h: &Harness<B>) {
    let node = h.client().await;
    let queue = node.command_queue();
    let id = node.push(EchoCommand { n: 1 }).await.expect("push");
    let (a, b) = (OwnerToken::new(), OwnerToken::new());
    let lease = Duration::from_secs(60);
    let names = ["echo"];

    let held = queue.claim(a, &names, lease, 10).await.expect("claim");
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].id, held[0].attempt), (id, 1));
    assert!(
        queue
            .claim(b, &names, lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "one owner at a time"
    );
    assert_eq!(queue.ack(b, &[id]).await.expect("ack"), 0, "not b's");
    assert!(
        queue
            .claim(a, &["other"], lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "names filter"
    );

    assert_eq!(queue.abandon(a, &[id]).await.expect("abandon"), 1);
    let held = queue.claim(b, &names, lease, 10).await.expect("claim");
    assert_eq!(held[0].attempt, 1, "the abandoned attempt was given back");

    // b fails it: retried after the backoff, the attempt counted.
    assert_eq!(
        queue.fail(b, &[id], "downstream 503").await.expect("fail"),
        1
    );
    let record = node.get(id).await.expect("get").expect("exists");
    assert_eq!(record.status, CommandStatus::Pending);
    assert_eq!(record.last_error.as_deref(), Some("downstream 503"));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // a claims it again and dies: its lease expires, it can settle nothing, the reaper
    // brings it back once.
    let held = queue
        .claim(a, &names, lease, 10)
        .await
        .expect("claim after backoff");
    assert_eq!(held[0].attempt, 2);
    h.expire_lease(id).await;
    assert_eq!(
        queue.ack(a, &[id]).await.expect("ack"),
        0,
        "an expired owner cannot ack"
    );
    assert_eq!(
        queue.fail(a, &[id], "late").await.expect("fail"),
        0,
        "nor fail"
    );
    assert_eq!(
        queue.abandon(a, &[id]).await.expect("abandon"),
        0,
        "nor abandon"
    );
    assert_eq!(queue.reap_expired().await.expect("reap"), 1);
    assert_eq!(
        queue.reap_expired().await.expect("reap again"),
        0,
        "reaped once"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The last attempt succeeds.
    let held = queue.claim(b, &names, lease, 10).await.expect("claim");
    assert_eq!(held[0].attempt, 3);
    assert_eq!(queue.ack(b, &[id]).await.expect("ack"), 1);
    assert_eq!(queue.ack(b, &[id]).await.expect("ack twice"), 0);
    let record = node.get(id).await.expect("get").expect("exists");
    assert_eq!(
        (record.status, record.attempts),
        (CommandStatus::Succeeded, 3)
    );

    // Spent attempts end dead.
    let id = node.push(EchoCommand { n: 2 }).await.expect("push");
    for _ in 0..3 {
        let mut held = Vec::new();
        for _ in 0..50 {
            held = queue.claim(a, &names, lease, 10).await.expect("claim");
            if !held.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(held.len(), 1, "due again after its backoff");
        queue.fail(a, &[id], "nope").await.expect("fail");
    }
    let record = node.get(id).await.expect("get").expect("exists");
    assert_eq!(record.status, CommandStatus::Dead);
    assert_eq!(record.errors.len(), 3);

    // Bad arguments are refused.
    assert!(queue.claim(a, &[], lease, 10).await.is_err());
    assert!(queue.claim(a, &names, Duration::ZERO, 10).await.is_err());
    assert!(queue.claim(a, &names, lease, 0).await.is_err());
}

/// Commands the claimers in the two processes take.
pub const QUEUED_COMMANDS: u64 = 400;
/// Claiming tasks per process.
pub const COMMAND_CLAIMERS_PER_PROCESS: usize = 25;

/// 50 claimers in two processes never hold one command at once, and together take every
/// command exactly once.
pub async fn command_queue_fifty_claimers_in_two_processes<B: SuiteBackend>(h: &Harness<B>) {
    let node = h.client().await;
    node.push_many((0..QUEUED_COMMANDS).map(|n| EchoCommand { n }))
        .await
        .expect("push");
    let probe =
        std::env::temp_dir().join(format!("orch-cmd-claims-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&probe).expect("probe dir");
    let probe_arg = probe.to_str().expect("utf-8").to_owned();
    let mut child = h
        .worker(&["claim-commands", &probe_arg])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("second process");
    claim_commands(h, &probe, "here").await;
    assert!(
        child.wait().await.expect("wait").success(),
        "the second process failed"
    );
    let mut seen = std::collections::HashMap::new();
    for file in std::fs::read_dir(&probe).expect("probe") {
        let text = std::fs::read_to_string(file.expect("entry").path()).expect("read");
        for id in text.lines() {
            *seen.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&probe);
    assert_eq!(seen.len() as u64, QUEUED_COMMANDS, "every command claimed");
    assert!(
        seen.values().all(|n| *n == 1),
        "a command held by two claims"
    );
    assert_eq!(
        h.count(CommandStatus::Succeeded).await,
        QUEUED_COMMANDS as i64
    );
}

/// One process's share of [`command_queue_fifty_claimers_in_two_processes`].
pub async fn claim_commands<B: SuiteBackend>(h: &Harness<B>, probe: &std::path::Path, tag: &str) {
    let node = h.builder().build().await.expect("build");
    let tasks: Vec<_> = (0..COMMAND_CLAIMERS_PER_PROCESS)
        .map(|n| {
            let queue = node.command_queue();
            let file = probe.join(format!("{tag}-{n}"));
            tokio::spawn(async move {
                let me = OwnerToken::new();
                let mut mine = String::new();
                let mut empty = 0;
                while empty < 3 {
                    let held = queue
                        .claim(me, &["echo"], Duration::from_secs(60), 5)
                        .await
                        .expect("claim");
                    if held.is_empty() {
                        empty += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    empty = 0;
                    let ids: Vec<_> = held.iter().map(|c| c.id).collect();
                    let acked = queue.ack(me, &ids).await.expect("ack");
                    assert_eq!(acked, ids.len() as u64, "held what it claimed");
                    for id in ids {
                        mine.push_str(&format!("{id}\n"));
                    }
                }
                std::fs::write(file, mine).expect("write probe");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("claimer");
    }
}
