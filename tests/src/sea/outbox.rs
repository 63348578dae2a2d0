//! The transactional outbox: enqueue in the caller's transaction, relay in order per key,
//! retries, dead messages and their re-drive, bad input, the work-queue API.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orch::outbox::{
    MemoryPublisher, Message, MessageFilter, MessageId, MessageStatus, OutboxConfig, OwnerToken,
    PublishError, Publisher,
};
use orch::prelude::*;
use orch::{Error, Orch};
use sea_orm::TransactionTrait;

use super::SeaBackend;
use crate::Harness;

/// Test timings: fast polls and retries.
pub fn test_outbox_config() -> OutboxConfig {
    OutboxConfig::default()
        .with_relay_poll_interval(Duration::from_millis(50))
        .with_retry(
            orch::RetryPolicy::new()
                .base(Duration::from_millis(20))
                .jitter(0.0),
        )
}

async fn relay(
    h: &Harness<SeaBackend>,
    publisher: impl Publisher,
    config: OutboxConfig,
) -> (
    Orch,
    CancellationToken,
    tokio::task::JoinHandle<orch::Result<()>>,
) {
    let orch = h
        .backend()
        .orch_builder()
        .publisher(publisher)
        .outbox_config(config)
        .build()
        .await
        .expect("build");
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    (orch, stop, task)
}

/// Waits until `$cond` (an expression that may `.await`) holds, failing after `$limit`.
macro_rules! wait_until {
    ($what:expr, $limit:expr, $cond:expr) => {{
        let deadline = tokio::time::Instant::now() + $limit;
        while !$cond {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }};
}

async fn status(
    outbox: &orch::outbox::Outbox<dyn orch::internal::AnyConnection>,
    id: MessageId,
) -> orch::outbox::OutboxMessage {
    outbox.get(id).await.expect("get").expect("exists")
}

/// `enqueue_in` joins the caller's transaction; ids make enqueueing idempotent, and an id
/// reused with other content is a conflict that stores nothing.
pub async fn outbox_enqueue_in_commits_with_the_transaction(h: &Harness<SeaBackend>) {
    let orch = h.backend().orch_builder().build().await.expect("build");
    let outbox = orch.outbox();
    let db = orch.connection();

    let txn = db.begin().await.expect("begin");
    let dropped = outbox
        .enqueue_in(&txn, Message::new("orders.created", b"1".to_vec()))
        .await
        .expect("enqueue in");
    txn.rollback().await.expect("rollback");
    assert!(
        outbox.get(dropped).await.expect("get").is_none(),
        "rolled back with the transaction"
    );

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct OrderCreated {
        order: u64,
    }
    let txn = db.begin().await.expect("begin");
    let message = Message::json("orders.created", &OrderCreated { order: 42 })
        .expect("json")
        .key("order-42")
        .header("tenant", "acme")
        .correlation_id("req-1");
    let kept = outbox
        .enqueue_in(&txn, message.clone())
        .await
        .expect("enqueue in");
    txn.commit().await.expect("commit");
    let stored = outbox.get(kept).await.expect("get").expect("committed");
    assert_eq!(stored.status, MessageStatus::Pending);
    assert_eq!(
        stored.payload_json::<OrderCreated>().expect("decode"),
        OrderCreated { order: 42 }
    );
    assert_eq!(stored.key.as_deref(), Some("order-42"));
    assert_eq!(stored.correlation_id.as_deref(), Some("req-1"));
    assert_eq!(
        stored.headers.get("tenant").map(String::as_str),
        Some("acme")
    );
    assert_eq!(
        stored.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );

    // The same id and content again: stored once.
    let again = outbox
        .enqueue_many(vec![message.clone()])
        .await
        .expect("again");
    assert!(!again[0].created);
    // The same id with another payload: refused, and nothing else of the call is stored.
    let other = Message::new("orders.created", b"different".to_vec()).id(kept);
    let fresh = Message::new("orders.created", b"fresh".to_vec());
    let fresh_id = fresh.message_id();
    match outbox.enqueue_many(vec![fresh, other]).await {
        Err(Error::Conflict(reason)) => assert!(reason.contains(&kept.to_string()), "{reason}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        outbox.get(fresh_id).await.expect("get").is_none(),
        "the whole call was refused"
    );
    assert_eq!(outbox.stats().await.expect("stats").pending, 1);
}

/// The relay delivers every message once, in order per key, keys in parallel, also when
/// a message in the middle of a key fails and is retried.
pub async fn outbox_relay_delivers_in_order_per_key(h: &Harness<SeaBackend>) {
    let publisher = MemoryPublisher::new();
    let failures = Arc::new(AtomicU32::new(0));
    publisher.fail_when({
        let failures = failures.clone();
        move |m| {
            (m.payload == b"b7" && failures.fetch_add(1, Ordering::SeqCst) < 2)
                .then(|| PublishError::retryable("b7 is refused twice"))
        }
    });
    let (orch, stop, task) = relay(h, publisher.clone(), test_outbox_config()).await;
    let outbox = orch.outbox();
    let mut expected: HashMap<String, Vec<MessageId>> = HashMap::new();
    for round in 0..25 {
        let mut batch = Vec::new();
        for key in ["a", "b", "c"] {
            let m = Message::new("orders", format!("{key}{round}").into_bytes()).key(key);
            expected
                .entry(key.to_owned())
                .or_default()
                .push(m.message_id());
            batch.push(m);
        }
        batch.push(Message::new("unkeyed", format!("u{round}").into_bytes()));
        outbox.enqueue_many(batch).await.expect("enqueue");
    }
    // Transactional enqueues while the relay writes (on SQLite a deferred transaction
    // whose first statement is the enqueue must wait for the write lock, not fail).
    for i in 0..30 {
        let txn = orch.connection().begin().await.expect("begin");
        outbox
            .enqueue_in(&txn, Message::new("late", format!("l{i}").into_bytes()))
            .await
            .expect("enqueue in while the relay runs");
        txn.commit().await.expect("commit");
    }
    wait_until!(
        "every message delivered",
        Duration::from_secs(30),
        publisher.delivered().len() >= 130
    );
    let delivered = publisher.delivered();
    assert_eq!(delivered.len(), 130, "each delivered once");
    assert_eq!(
        failures.load(Ordering::SeqCst),
        3,
        "b7 failed twice, then went through"
    );
    let ids: HashSet<_> = delivered.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 130, "no message delivered twice");
    for (key, want) in expected {
        let got: Vec<_> = delivered
            .iter()
            .filter(|m| m.key.as_deref() == Some(&*key))
            .map(|m| m.id)
            .collect();
        assert_eq!(got, want, "key {key} delivered in enqueue order");
    }
    wait_until!(
        "the marks",
        Duration::from_secs(10),
        outbox.stats().await.expect("stats").delivered == 130
    );
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.processing, stats.dead), (0, 0, 0));
    assert!(stats.oldest_undelivered.is_none());
    stop.cancel();
    task.await.expect("task").expect("engine");
}

/// Failed publishes are retried with backoff; spent attempts or a permanent error make a
/// message dead with its reason; a dead message holds its key back until it is retried or
/// discarded; a panicking publisher is a failed attempt.
pub async fn outbox_failures_retry_then_dead_and_redrive(h: &Harness<SeaBackend>) {
    let publisher = MemoryPublisher::new();
    let flaky = Arc::new(AtomicU32::new(0));
    publisher.fail_when({
        let flaky = flaky.clone();
        move |m| match m.topic.as_str() {
            "flaky" if flaky.fetch_add(1, Ordering::SeqCst) < 2 => {
                Some(PublishError::retryable("broker busy"))
            }
            "refused" => Some(PublishError::permanent("subject refused by the broker")),
            "down" => Some(PublishError::retryable("connection refused")),
            "panics" => panic!("publisher bug"),
            _ => None,
        }
    });
    let config = test_outbox_config().with_max_attempts(3);
    let (orch, stop, task) = relay(h, publisher.clone(), config).await;
    let outbox = orch.outbox();
    let flaky_id = outbox
        .enqueue(Message::new("flaky", b"f".to_vec()))
        .await
        .expect("enqueue");
    let refused = outbox
        .enqueue(Message::new("refused", b"r".to_vec()).key("k1"))
        .await
        .expect("enqueue");
    let behind = outbox
        .enqueue(Message::new("fine", b"after".to_vec()).key("k1"))
        .await
        .expect("enqueue");
    let down = outbox
        .enqueue(Message::new("down", b"d".to_vec()).key("k2"))
        .await
        .expect("enqueue");
    let panics = outbox
        .enqueue(Message::new("panics", b"p".to_vec()))
        .await
        .expect("enqueue");

    wait_until!(
        "flaky delivered",
        Duration::from_secs(20),
        status(&outbox, flaky_id).await.status == MessageStatus::Delivered
    );
    assert_eq!(
        status(&outbox, flaky_id).await.attempts,
        3,
        "two failures, then success"
    );

    wait_until!(
        "refused dead",
        Duration::from_secs(20),
        status(&outbox, refused).await.status == MessageStatus::Dead
    );
    let dead = status(&outbox, refused).await;
    assert_eq!(dead.attempts, 1, "a permanent error is not retried");
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .contains("subject refused"),
        "{dead:?}"
    );

    wait_until!(
        "down dead",
        Duration::from_secs(20),
        status(&outbox, down).await.status == MessageStatus::Dead
    );
    let down_row = status(&outbox, down).await;
    assert_eq!(down_row.attempts, 3, "spent its three attempts");
    assert!(
        down_row
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("connection refused")
    );

    wait_until!(
        "panics retried",
        Duration::from_secs(20),
        status(&outbox, panics).await.attempts >= 2
    );
    assert!(
        status(&outbox, panics)
            .await
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("panicked"),
        "a panic is a failed attempt with its message"
    );

    // The dead message of k1 holds back the next one of k1.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status(&outbox, behind).await.status,
        MessageStatus::Pending,
        "held back by the dead message before it"
    );
    let dead_list = outbox
        .list(&MessageFilter::new().status(MessageStatus::Dead))
        .await
        .expect("list");
    assert!(dead_list.iter().any(|m| m.id == refused) && dead_list.iter().any(|m| m.id == down));

    let health = orch.health().await;
    let seen = health.outbox.expect("outbox health");
    assert!(seen.dead >= 2, "health reports dead messages: {seen:?}");
    assert!(seen.oldest_undelivered.is_some());

    // Discarding the dead one releases its key.
    assert!(outbox.discard(refused).await.expect("discard"));
    assert!(!outbox.discard(refused).await.expect("discard twice"));
    wait_until!(
        "behind delivered",
        Duration::from_secs(20),
        status(&outbox, behind).await.status == MessageStatus::Delivered
    );

    // Retrying a dead one gives it fresh attempts.
    publisher.accept_all();
    assert!(outbox.retry(down).await.expect("retry"));
    assert!(
        !outbox.retry(down).await.expect("retry twice"),
        "only dead messages are retried"
    );
    wait_until!(
        "down delivered after retry",
        Duration::from_secs(20),
        status(&outbox, down).await.status == MessageStatus::Delivered
    );
    stop.cancel();
    task.await.expect("task").expect("engine");
    let delivered = publisher.delivered();
    assert_eq!(delivered.iter().filter(|m| m.id == down).count(), 1);
    assert!(!delivered.iter().any(|m| m.id == refused));
}

/// A message breaking a limit is refused before SQL with the field named; nothing is
/// stored.
pub async fn outbox_bad_input_is_refused(h: &Harness<SeaBackend>) {
    let orch = h
        .backend()
        .orch_builder()
        .outbox_config(OutboxConfig::default().with_max_payload_bytes(1024))
        .build()
        .await
        .expect("build");
    let outbox = orch.outbox();
    let cases = [
        ("topic", Message::new("", b"x".to_vec())),
        ("topic", Message::new("a\u{0}b", b"x".to_vec())),
        ("topic", Message::new("t".repeat(256), b"x".to_vec())),
        ("key", Message::new("t", b"x".to_vec()).key("")),
        ("key", Message::new("t", b"x".to_vec()).key("k\n")),
        (
            "headers",
            Message::new("t", b"x".to_vec()).header("bad name", "v"),
        ),
        (
            "headers",
            Message::new("t", b"x".to_vec()).header("h", "line\r\nbreak"),
        ),
        (
            "correlation_id",
            Message::new("t", b"x".to_vec()).correlation_id("c".repeat(300)),
        ),
        ("payload", Message::new("t", vec![0u8; 1025])),
    ];
    for (field, message) in cases {
        match outbox.enqueue(message).await {
            Err(Error::Config(e)) => assert!(e.to_string().contains(field), "{field}: {e}"),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
    // Binary payloads and Unicode round-trip.
    let id = outbox
        .enqueue(Message::new("tópico.ünïcode", vec![0u8, 255, 1, 254]).key("ключ"))
        .await
        .expect("enqueue");
    let stored = outbox.get(id).await.expect("get").expect("stored");
    assert_eq!(stored.payload, vec![0u8, 255, 1, 254]);
    assert_eq!(stored.topic, "tópico.ünïcode");
    assert_eq!(stored.key.as_deref(), Some("ключ"));
    assert_eq!(outbox.stats().await.expect("stats").pending, 1);
    // Claims with impossible arguments are refused too.
    let me = OwnerToken::new();
    assert!(matches!(
        outbox.claim(me, Duration::ZERO, 10).await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        outbox.claim(me, Duration::from_secs(1), 0).await,
        Err(Error::Config(_))
    ));
}

/// Claims are fenced by owner and lease: a second owner cannot take a held message, an
/// expired owner can settle nothing, a reaped message comes back exactly once, an abandon
/// does not count the attempt and a fail counts it with a backoff.
pub async fn outbox_work_queue_fences_owners(h: &Harness<SeaBackend>) {
    let orch = h
        .backend()
        .orch_builder()
        .outbox_config(test_outbox_config().with_max_attempts(5))
        .build()
        .await
        .expect("build");
    let outbox = orch.outbox();
    let id = outbox
        .enqueue(Message::new("jobs", b"1".to_vec()))
        .await
        .expect("enqueue");
    let (a, b) = (OwnerToken::new(), OwnerToken::new());
    let lease = Duration::from_secs(60);

    let held = outbox.claim(a, lease, 10).await.expect("claim");
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].id, held[0].attempts, held[0].status),
        (id, 1, MessageStatus::Processing)
    );
    assert!(
        outbox.claim(b, lease, 10).await.expect("claim").is_empty(),
        "one owner at a time"
    );
    assert_eq!(
        outbox.ack(b, &[id]).await.expect("ack"),
        0,
        "not b's to ack"
    );

    // a abandons: back at once, attempt not counted.
    assert_eq!(outbox.abandon(a, &[id]).await.expect("abandon"), 1);
    let held = outbox.claim(b, lease, 10).await.expect("claim");
    assert_eq!(held[0].attempts, 1, "the abandoned attempt was given back");

    // b's claim expires: b can settle nothing, the reaper brings it back once.
    h.backend()
        .exec(
            "UPDATE {outbox} SET locked_until = locked_until - 3600000000 WHERE id = {p1}",
            vec![id.as_uuid().into()],
        )
        .await;
    assert_eq!(
        outbox.ack(b, &[id]).await.expect("ack"),
        0,
        "an expired owner cannot ack"
    );
    assert_eq!(
        outbox.fail(b, &[id], "late").await.expect("fail"),
        0,
        "nor fail"
    );
    assert_eq!(
        outbox.abandon(b, &[id]).await.expect("abandon"),
        0,
        "nor abandon"
    );
    assert_eq!(outbox.reap_expired().await.expect("reap"), 1);
    assert_eq!(
        outbox.reap_expired().await.expect("reap again"),
        0,
        "reaped once"
    );
    let reaped = outbox.get(id).await.expect("get").expect("exists");
    assert_eq!(reaped.status, MessageStatus::Pending);
    assert!(
        reaped
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("claim expired")
    );

    // a fails it: pending after a backoff, attempt counted.
    let held = outbox.claim(a, lease, 10).await.expect("claim");
    assert_eq!(held[0].attempts, 2);
    assert_eq!(
        outbox.fail(a, &[id], "downstream 503").await.expect("fail"),
        1
    );
    let failed = outbox.get(id).await.expect("get").expect("exists");
    assert_eq!(failed.status, MessageStatus::Pending);
    assert_eq!(failed.last_error.as_deref(), Some("downstream 503"));
    assert!(failed.next_attempt_at > failed.created_at);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = outbox
        .claim(b, lease, 10)
        .await
        .expect("claim after backoff");
    assert_eq!(held.len(), 1);
    assert_eq!(outbox.ack(b, &[id]).await.expect("ack"), 1);
    assert_eq!(
        outbox.ack(b, &[id]).await.expect("ack twice"),
        0,
        "acked once"
    );
    assert_eq!(
        outbox.get(id).await.expect("get").expect("exists").status,
        MessageStatus::Delivered
    );

    // Delivered messages past retention are pruned.
    h.backend()
        .exec(
            "UPDATE {outbox} SET delivered_at = delivered_at - 864000000000 WHERE id = {p1}",
            vec![id.as_uuid().into()],
        )
        .await;
    assert_eq!(outbox.prune().await.expect("prune"), 1);
    assert!(outbox.get(id).await.expect("get").is_none());
}

/// Messages claimers in the two processes take.
pub const CLAIM_MESSAGES: usize = 600;
/// Claiming tasks per process.
pub const CLAIMERS_PER_PROCESS: usize = 25;

/// 50 claimers in two processes never hold one message at once, and together take every
/// message exactly once.
pub async fn outbox_fifty_claimers_in_two_processes(h: &Harness<SeaBackend>) {
    let orch = h.backend().orch_builder().build().await.expect("build");
    let messages: Vec<_> = (0..CLAIM_MESSAGES)
        .map(|i| Message::new("jobs", i.to_string().into_bytes()))
        .collect();
    orch.outbox().enqueue_many(messages).await.expect("enqueue");
    let probe = std::env::temp_dir().join(format!("orch-claims-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&probe).expect("probe dir");
    let probe_arg = probe.to_str().expect("utf-8").to_owned();
    let mut child = h
        .worker(&["claim-outbox", &probe_arg])
        .stdout(Stdio::null())
        .spawn()
        .expect("second process");
    claim_all(h.backend(), &probe, "here").await;
    assert!(
        child.wait().await.expect("wait").success(),
        "the second process failed"
    );
    let mut seen = HashMap::new();
    for file in std::fs::read_dir(&probe).expect("probe") {
        let text = std::fs::read_to_string(file.expect("entry").path()).expect("read");
        for id in text.lines() {
            *seen.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&probe);
    assert_eq!(seen.len(), CLAIM_MESSAGES, "every message claimed");
    assert!(
        seen.values().all(|n| *n == 1),
        "a message held by two claims"
    );
    let stats = orch.outbox().stats().await.expect("stats");
    assert_eq!(stats.delivered, CLAIM_MESSAGES as u64);
}

/// One process's share of [`outbox_fifty_claimers_in_two_processes`]: its claimers take
/// and ack messages until none is left, writing each id they acked into `probe`.
pub async fn claim_all(backend: &SeaBackend, probe: &std::path::Path, tag: &str) {
    let orch = backend.orch_builder().build().await.expect("build");
    let tasks: Vec<_> = (0..CLAIMERS_PER_PROCESS)
        .map(|n| {
            let outbox = orch.outbox();
            let file = probe.join(format!("{tag}-{n}"));
            tokio::spawn(async move {
                let me = OwnerToken::new();
                let mut mine = String::new();
                let mut empty = 0;
                while empty < 3 {
                    let held = outbox
                        .claim(me, Duration::from_secs(60), 7)
                        .await
                        .expect("claim");
                    if held.is_empty() {
                        empty += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    empty = 0;
                    let ids: Vec<_> = held.iter().map(|m| m.id).collect();
                    let acked = outbox.ack(me, &ids).await.expect("ack");
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

/// Domain events raised in a unit of work become outbox messages exactly when it commits.
pub async fn unit_of_work_writes_events_on_commit(h: &Harness<SeaBackend>) {
    let orch = h.backend().orch_builder().build().await.expect("build");
    let uow = orch.unit_of_work().await.expect("begin");
    uow.raise(Message::new("user.registered", b"1".to_vec()));
    uow.rollback().await.expect("rollback");
    assert_eq!(orch.outbox().stats().await.expect("stats").pending, 0);

    let uow = orch.unit_of_work().await.expect("begin");
    let domain = uow.events().clone(); // held by domain code
    domain.raise(Message::new("user.registered", b"2".to_vec()).key("user-2"));
    domain
        .raise_json("user.welcomed", &serde_json::json!({ "user": 2 }))
        .expect("json");
    let written = uow.commit().await.expect("commit");
    assert_eq!(written.len(), 2);
    assert!(domain.is_empty(), "written events leave the collector");
    let listed = orch
        .outbox()
        .list(&MessageFilter::new())
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|m| m.topic.as_str()).collect::<Vec<_>>(),
        ["user.registered", "user.welcomed"]
    );

    // A refused event keeps the whole unit from committing.
    let uow = orch.unit_of_work().await.expect("begin");
    uow.raise(Message::new("", b"bad".to_vec()));
    assert!(matches!(uow.commit().await, Err(Error::Config(_))));
    assert_eq!(orch.outbox().stats().await.expect("stats").pending, 2);
}
