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
